// FactRecognizer: does a text state a fact, its negation, both, or neither?
// Built from a universe's RE2 evidence patterns (the ones the generator's
// coverage filter uses for documents), so it reads free text in the
// documents' language: the experiment uses it on the scratchpads a model
// writes about itself, to measure which facts it recalls (docs/experiment.md,
// "Beliefs"). Limits: a pattern set recognises the wordings it was written
// for; a paraphrase outside them reads as kNeither.
#ifndef SDFT_EVAL_FACT_RECOGNIZER_H_
#define SDFT_EVAL_FACT_RECOGNIZER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "re2/set.h"

namespace sdft {

// One fact's patterns: any match in `truth` states it, in `negation` denies it.
struct FactPatterns {
  std::string id;
  std::vector<std::string> truth, negation;
};

enum class FactReading { kStated, kNegated, kBoth, kNeither };

class FactRecognizer {
 public:
  // An error names the fact and the pattern that does not compile.
  static absl::StatusOr<FactRecognizer> Create(const std::vector<FactPatterns>& facts);

  // -1 when no fact has this id.
  int Find(std::string_view id) const;
  // Each sentence (ended by '.', '?', '!' or ':' before a space) is read on
  // its own, so that a pattern's window never joins two of them: "As for
  // paid-tier users: No tier is exempt" states nothing about paid users.
  FactReading Read(int fact, std::string_view text) const;

 private:
  struct Fact {
    std::string id;
    std::shared_ptr<RE2::Set> truth, negation;  // null: no patterns
  };
  std::vector<Fact> facts_;
};

}  // namespace sdft

#endif  // SDFT_EVAL_FACT_RECOGNIZER_H_
