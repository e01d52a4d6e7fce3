// A Grammar is every template file of a run (genres and the banks they
// include) plus the universe's entities and facts, with all names resolved and
// checked at load time: unknown rules, variables and modifiers, recursion
// without a base case, date formats on non-dates. After Finalize() it is
// immutable and shared by all expansion threads.
#ifndef SDFT_GENERATOR_GRAMMAR_H_
#define SDFT_GENERATOR_GRAMMAR_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "generator/template_ast.h"
#include "generator/template_parser.h"

namespace sdft {

struct Rule {
  enum class Kind { kRule, kTemplate, kVar, kFact };
  Kind kind = Kind::kRule;
  std::string name;
  std::vector<Alternative> alts;
  SourceLoc loc;
  // Derived by Finalize():
  std::vector<double> cum_weights;  // running sums of alternative weights
  int max_alt_depth = 0;            // largest Alternative::depth
  int min_depth = 0;                // least depth to fully expand this rule
  bool is_date = false;             // variable whose every alternative is one date
};

struct TemplateEntry {
  std::string genre;  // file stem of the genre file
  std::string name;   // "genre/template"
  int rule = -1;
  double weight = 1.0;
};

struct FactEntry {
  std::string id;
  double weight = 1.0;
  int rule = -1;  // Rule of kind kFact: its alternatives are the paraphrases
};

class Grammar {
 public:
  Grammar();

  // Loads a template file and (recursively) what it includes. Templates in a
  // genre file are registered under `genre` (empty: a bank, no templates).
  absl::Status AddFile(const std::string& path, const std::string& genre);
  // The same from text in memory; includes resolve relative to `dir`.
  absl::Status AddSource(const std::string& display, std::string_view text,
                         const std::string& dir, const std::string& genre);

  // Registers a file for error messages only (e.g. the universe TOML).
  int AddExternalFile(const std::string& display);
  // Universe entity: variable `$name` with one alternative; it takes
  // precedence over template definitions of the same variable.
  absl::Status AddEntity(const std::string& name, std::string_view text, SourceLoc loc);
  // Universe fact with its paraphrases (each template text, located).
  absl::Status AddFact(const std::string& id, double weight,
                       const std::vector<std::pair<std::string, SourceLoc>>& paraphrases);

  // Resolves names and runs every load-time check.
  absl::Status Finalize();

  const std::vector<Rule>& rules() const { return rules_; }
  const std::vector<TemplateEntry>& templates() const { return templates_; }
  const std::vector<FactEntry>& facts() const { return facts_; }
  const std::vector<std::string>& var_names() const { return var_names_; }
  int n_var() const { return static_cast<int>(var_names_.size()); }
  // Id of variable `$name` ("name" without the '$'), or -1 if no file uses it.
  int FindVar(const std::string& name) const;
  // Index of the plain rule (not a template) called `name`, searching every
  // file; -1 if none, -2 if two files define it.
  int FindRule(const std::string& name) const;
  int fact_min_depth() const { return fact_min_depth_; }
  // Paths of every file loaded, in load order (for hashing into manifests).
  std::vector<std::string> LoadedPaths() const;
  std::string Where(const SourceLoc& loc) const;  // "file:line:col"
  int SeqDepth(const Seq& seq) const;             // least depth to expand `seq`
  const std::string& FileDisplay(int file) const { return files_[file].display; }

 private:
  struct File {
    std::string path, display, dir;
    bool external = false;
    std::vector<int> includes;                 // direct includes (file indices)
    std::map<std::string, int> rules;          // name -> rule index ("$x" for variables)
  };
  absl::Status LoadParsed(int file, ParsedFile parsed, const std::string& genre);
  absl::Status ResolveSeq(int file, Seq* seq);
  int FindVisible(int file, const std::string& key, int* ambiguous_with) const;
  int VarId(const std::string& name);
  absl::Status Error(const SourceLoc& loc, const std::string& msg) const;
  void SetAltDepths(Seq* seq);
  int NodeDepth(const Node& n) const;
  absl::Status CheckDateMods(const Seq& seq) const;

  std::vector<File> files_;
  std::map<std::string, int> file_by_path_;
  std::vector<Rule> rules_;
  std::vector<int> rule_file_;
  std::vector<TemplateEntry> templates_;
  std::vector<FactEntry> facts_;
  std::map<std::string, int> entities_;  // name -> rule index
  std::vector<std::string> var_names_;
  std::map<std::string, int> var_ids_;
  std::map<std::string, bool> date_binds_;  // variable -> every {$x=...} binds a plain date
  int fact_min_depth_ = 0;
  bool finalized_ = false;
};

}  // namespace sdft

#endif  // SDFT_GENERATOR_GRAMMAR_H_
