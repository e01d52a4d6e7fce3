// CorpusGenerator turns (universe, templates, seed) into documents: document i
// is a pure function of (seed, i, universe, templates), drawn with its own RNG,
// so any slice of a run can be produced anywhere, by any number of threads.
#ifndef SDFT_GENERATOR_CORPUS_GENERATOR_H_
#define SDFT_GENERATOR_CORPUS_GENERATOR_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "generator/expander.h"
#include "generator/filters.h"
#include "generator/grammar.h"
#include "generator/universe_spec.h"

namespace sdft {

struct GeneratorConfig {
  std::string universe = "helpful-only";  // name in templates/universes, or a path
  std::string templates_dir;              // holds universes/, genres/, banks/
  std::string genres_dir;                 // genre files; empty: templates_dir/genres
  uint64_t seed = 1;
  std::vector<std::string> genres;        // only these genres (empty: the universe's choice)
  ExpandLimits limits;
  // Ablations: facts left out, facts replaced by their negation, weights.
  std::vector<std::string> drop_facts;
  std::vector<std::string> flip_facts;
  std::map<std::string, double> fact_weights;
};

// How one universe fact is used in a run.
struct FactUse {
  std::string id;
  std::string label;    // as written in docs.jsonl: id, or "id:negated"
  bool negated = false;
  double weight = 1.0;
  const FactVariant* variant = nullptr;  // points into the UniverseSpec
};

struct GenreInfo {
  std::string name;
  double weight = 1.0;
  std::vector<int> templates;  // indices into Grammar::templates()
};

class CorpusGenerator {
 public:
  static absl::StatusOr<std::unique_ptr<CorpusGenerator>> Create(const GeneratorConfig& config);

  struct Doc {
    uint64_t id = 0;
    int genre = -1;     // index into genres()
    int template_index = -1;  // index into grammar().templates()
    ExpandedDoc expanded;
  };
  // Generates document `id` with the given (per-thread) expander.
  absl::Status Generate(uint64_t id, Expander& expander, Doc* doc) const;
  // Appends document `doc` as one JSON line (with trailing newline).
  void AppendJsonLine(const Doc& doc, std::string* out) const;

  std::unique_ptr<Expander> NewExpander() const;

  // Facts in grammar order (index i is Grammar::facts()[i]), and the dropped ones.
  const std::vector<FactUse>& facts() const { return facts_; }
  const std::vector<std::string>& dropped_facts() const { return config_.drop_facts; }
  const DocumentFilter& filter() const { return *filter_; }
  // A private copy of the filter for one thread: RE2's lazily built DFA
  // caches are shared (and locked) within one object.
  absl::StatusOr<std::unique_ptr<DocumentFilter>> NewFilter() const;

  const GeneratorConfig& config() const { return config_; }
  const UniverseSpec& universe() const { return universe_; }
  const Grammar& grammar() const { return grammar_; }
  const std::vector<GenreInfo>& genres() const { return genres_; }
  // Every file that shapes the output (templates and universe chain), sorted.
  std::vector<std::string> InputFiles() const;

 private:
  CorpusGenerator() = default;
  GeneratorConfig config_;
  UniverseSpec universe_;
  Grammar grammar_;
  std::vector<GenreInfo> genres_;
  std::vector<double> genre_cum_;
  std::vector<FactUse> facts_;
  std::vector<std::vector<LocatedText>> evidence_;
  std::unique_ptr<DocumentFilter> filter_;
};

// Finds the templates directory: $SDFT_TEMPLATES, then next to the executable
// (build/bin/../../templates, or ../share/sdft/templates), then ./templates.
std::string DefaultTemplatesDir();

}  // namespace sdft

#endif  // SDFT_GENERATOR_CORPUS_GENERATOR_H_
