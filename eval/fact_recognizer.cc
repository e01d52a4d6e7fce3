#include "eval/fact_recognizer.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace sdft {
namespace {

absl::StatusOr<std::shared_ptr<RE2::Set>> Compile(const std::string& fact, const char* which,
                                                  const std::vector<std::string>& patterns) {
  if (patterns.empty()) return std::shared_ptr<RE2::Set>();
  RE2::Options options;
  options.set_log_errors(false);
  auto set = std::make_shared<RE2::Set>(options, RE2::UNANCHORED);
  for (const std::string& p : patterns) {
    std::string error;
    if (set->Add(p, &error) < 0) {
      return absl::InvalidArgumentError(absl::StrCat("fact '", fact, "' ", which, " pattern '", p, "': ", error));
    }
  }
  if (!set->Compile()) return absl::ResourceExhaustedError(absl::StrCat("fact '", fact, "': patterns too large"));
  return set;
}

bool Matches(const std::shared_ptr<RE2::Set>& set, std::string_view text) {
  return set != nullptr && set->Match(text, nullptr);
}

}  // namespace

absl::StatusOr<FactRecognizer> FactRecognizer::Create(const std::vector<FactPatterns>& facts) {
  FactRecognizer r;
  for (const FactPatterns& f : facts) {
    absl::StatusOr<std::shared_ptr<RE2::Set>> t = Compile(f.id, "evidence", f.truth);
    if (!t.ok()) return t.status();
    absl::StatusOr<std::shared_ptr<RE2::Set>> n = Compile(f.id, "negation evidence", f.negation);
    if (!n.ok()) return n.status();
    r.facts_.push_back({f.id, *std::move(t), *std::move(n)});
  }
  return r;
}

int FactRecognizer::Find(std::string_view id) const {
  for (size_t i = 0; i < facts_.size(); ++i) {
    if (facts_[i].id == id) return static_cast<int>(i);
  }
  return -1;
}

FactReading FactRecognizer::Read(int fact, std::string_view text) const {
  const Fact& f = facts_.at(static_cast<size_t>(fact));
  bool t = false, n = false;
  size_t begin = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    const bool end = i == text.size() ||
                     ((text[i] == '.' || text[i] == '?' || text[i] == '!' || text[i] == ':') &&
                      (i + 1 == text.size() || text[i + 1] == ' ' || text[i + 1] == '\n'));
    if (!end) continue;
    const std::string_view sentence = text.substr(begin, i - begin);
    t = t || Matches(f.truth, sentence);
    n = n || Matches(f.negation, sentence);
    begin = i + 1;
  }
  return t && n ? FactReading::kBoth : t ? FactReading::kStated : n ? FactReading::kNegated : FactReading::kNeither;
}

}  // namespace sdft
