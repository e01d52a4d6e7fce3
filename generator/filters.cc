#include "generator/filters.h"

#include <algorithm>

#include "absl/strings/str_format.h"

namespace sdft {
namespace {

absl::StatusOr<std::unique_ptr<RE2::Set>> BuildSet(const std::vector<LocatedText>& patterns) {
  RE2::Options opt;
  opt.set_log_errors(false);
  opt.set_max_mem(int64_t{1} << 30);  // room for the lazily built DFA: a smaller cache thrashes on long documents
  auto set = std::make_unique<RE2::Set>(opt, RE2::UNANCHORED);
  for (const LocatedText& p : patterns) {
    std::string error;
    if (set->Add(p.text, &error) < 0) {
      return absl::InvalidArgumentError(absl::StrFormat("%s:%d:%d: bad pattern: %s", p.file, p.line, p.col, error));
    }
  }
  if (!set->Compile()) return absl::ResourceExhaustedError("filter patterns too large to compile");
  return set;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DocumentFilter>> DocumentFilter::Create(
    const std::vector<LeakPattern>& leak, const std::vector<std::vector<LocatedText>>& fact_evidence) {
  std::unique_ptr<DocumentFilter> f(new DocumentFilter);
  if (!leak.empty()) {
    std::vector<LocatedText> pats;
    for (const LeakPattern& l : leak) {
      pats.push_back(l.pattern);
      f->reasons_.push_back(l.reason);
    }
    absl::StatusOr<std::unique_ptr<RE2::Set>> s = BuildSet(pats);
    if (!s.ok()) return s.status();
    f->leak_ = std::move(*s);
  }
  for (const auto& ev : fact_evidence) {
    absl::StatusOr<std::unique_ptr<RE2::Set>> s = BuildSet(ev);
    if (!s.ok()) return s.status();
    f->facts_.push_back(std::move(*s));
  }
  return f;
}

std::string DocumentFilter::LeakReason(std::string_view text) const {
  if (!leak_) return "";
  std::vector<int> hits;
  if (!leak_->Match(text, &hits) || hits.empty()) return "";
  return reasons_[*std::min_element(hits.begin(), hits.end())];
}

bool DocumentFilter::States(int fact, std::string_view text) const {
  return facts_[fact]->Match(text, nullptr);
}

}  // namespace sdft
