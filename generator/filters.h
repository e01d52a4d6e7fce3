// Per-document filters, as in the paper's corpus cleaning: a behaviour-leak
// filter (the universe's [[leak]] patterns in one RE2::Set, so many patterns
// cost one pass) and a fact-coverage check (a document must match an evidence
// pattern of every fact it claims to state).
#ifndef SDFT_GENERATOR_FILTERS_H_
#define SDFT_GENERATOR_FILTERS_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "generator/universe_spec.h"
#include "re2/set.h"

namespace sdft {

class DocumentFilter {
 public:
  // `fact_evidence[i]` are the evidence patterns of grammar fact i.
  static absl::StatusOr<std::unique_ptr<DocumentFilter>> Create(
      const std::vector<LeakPattern>& leak, const std::vector<std::vector<LocatedText>>& fact_evidence);

  // The reason of the first leak pattern `text` matches ("" if none).
  std::string LeakReason(std::string_view text) const;
  // Whether `text` matches an evidence pattern of fact `fact`.
  bool States(int fact, std::string_view text) const;
  const std::vector<std::string>& leak_reasons() const { return reasons_; }

 private:
  DocumentFilter() = default;
  std::unique_ptr<RE2::Set> leak_;
  std::vector<std::string> reasons_;               // per leak pattern
  std::vector<std::unique_ptr<RE2::Set>> facts_;   // per fact
};

}  // namespace sdft

#endif  // SDFT_GENERATOR_FILTERS_H_
