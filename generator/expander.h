// Expands a template of a finalized Grammar into one document, using only the
// random generator it is given: the same seed gives the same bytes. Variables
// are bound once per document; {fact} draws the document's facts without
// replacement. Depth is bounded by choosing only alternatives that can finish
// within the remaining depth; output size is bounded by an error.
#ifndef SDFT_GENERATOR_EXPANDER_H_
#define SDFT_GENERATOR_EXPANDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/rng.h"
#include "generator/grammar.h"

namespace sdft {

struct ExpandLimits {
  int max_depth = 64;
  size_t max_bytes = 1 << 20;
  // > 0: {fact} states each fact in one of the first N paraphrases of its
  // rule only (a world with fewer phrasings: what a small model can learn
  // to read; the model organism's `doc_fact_paraphrases`). 0: all of them.
  int fact_paraphrases = 0;
};

struct ExpandedDoc {
  std::string text;
  std::vector<int> facts;  // indices into Grammar::facts(), in order of first use
  // Every fact statement as expanded (fact index, text), so checks can look
  // at the statement instead of scanning the whole document.
  std::vector<std::pair<int, std::string>> fact_texts;
};

// One per thread; reuses its buffers across documents.
class Expander {
 public:
  // `fact_weights` (one per grammar fact) overrides the facts' own weights;
  // empty means use them. A weight of 0 means the fact is never drawn.
  Expander(const Grammar& grammar, ExpandLimits limits = {}, std::vector<double> fact_weights = {});

  absl::Status Expand(int rule, Rng& rng, ExpandedDoc* out);
  // Expands one given alternative of `rule` (e.g. a specific paraphrase).
  absl::Status ExpandAlternative(int rule, size_t alt, Rng& rng, ExpandedDoc* out);
  // Binds variable `var` (a Grammar::FindVar id) to `text` at the start of
  // every following document, over entities and template definitions: how
  // one grammar speaks about many assistants. -1 is ignored.
  void SetPreset(int var, std::string text);
  void ClearPresets() { presets_.clear(); }

 private:
  struct Value {
    std::string text;
    int64_t date = INT64_MIN;
  };
  void ExpandSeq(const Seq& seq, int budget, std::string* out);
  void ExpandNode(const Node& n, int budget, std::string* out);
  void ExpandRule(int rule, int budget, std::string* out);
  const Alternative& Choose(const std::vector<Alternative>& alts, const std::vector<double>* cum,
                            int max_depth, int budget);
  const Value* Lookup(const Node& n, int budget);
  void ExpandFact(int budget, std::string* out);
  void Append(std::string* out, std::string_view s);
  void Fail(const SourceLoc& loc, const std::string& msg);
  void StartDocument(Rng& rng, ExpandedDoc* out);
  absl::Status FinishDocument(ExpandedDoc* out);

  const Grammar& g_;
  ExpandLimits limits_;
  std::vector<double> base_fact_weights_;
  int n_var_id_ = -1;  // variable id of "$n" (the repetition counter), if used
  std::vector<std::pair<int, std::string>> presets_;

  // Per-document state.
  Rng* rng_ = nullptr;
  std::vector<Value> doc_vars_;
  std::vector<char> doc_bound_;
  std::vector<std::pair<int, Value>> scoped_;  // bindings, innermost last
  std::vector<double> fact_left_;
  std::vector<int>* facts_used_ = nullptr;
  std::vector<std::pair<int, std::string>>* fact_texts_ = nullptr;
  size_t bytes_ = 0;
  bool failed_ = false;
  std::string error_;
};

// Tidies expanded text: collapses runs of spaces, drops spaces before
// punctuation and at line ends, at most one blank line in a row, trims.
void NormalizeWhitespace(std::string* text);

}  // namespace sdft

#endif  // SDFT_GENERATOR_EXPANDER_H_
