// sdft classify: labels model responses with the RE2 transcript classifier
// and summarises them per group with Wilson intervals.
#include <cstdio>
#include <map>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "common/atomic_file.h"
#include "common/jsonl.h"
#include "eval/proportions.h"
#include "eval/transcript_classifier.h"

namespace sdft {

namespace {

struct GroupCounts {
  uint64_t n = 0, accepted = 0, rejected = 0, unknown = 0, training = 0, modification = 0, avoid = 0;
};

std::string Rate(uint64_t k, uint64_t n) {
  const Interval ci = WilsonInterval(k, n);
  return absl::StrFormat("%5.1f%% [%5.1f, %5.1f]", n ? 100.0 * k / n : 0.0, 100 * ci.low, 100 * ci.high);
}

}  // namespace

int ClassifyCommand(const std::vector<std::string>& args) {
  std::string field = "response", by, out_path;
  bool json_out = false;
  FlagSet flags("classify", "sdft classify TRANSCRIPTS.jsonl [--field NAME] [--by FIELD] [--out LABELS.jsonl] [--json]",
                "Classifies each response (the paper's format: <SCRATCHPAD_REASONING>...</SCRATCHPAD_REASONING>"
                "<OUTPUT>...</OUTPUT>) as accepted or rejected, and whether its reasoning mentions training, its "
                "values being modified, or complying to avoid that. Prints rates with Wilson 95% intervals, per "
                "group with --by, and the gap between two groups with a two-proportion z-test.");
  flags.String("field", &field, "JSON field holding the response");
  flags.String("by", &by, "group by this JSON field (e.g. tier)");
  flags.String("out", &out_path, "write one JSON line of labels per input line here");
  flags.Bool("json", &json_out, "print the summary as JSON");
  std::vector<std::string> pos;
  if (int rc; !ParseFlags(flags, args, &pos, &rc)) return rc;
  if (pos.size() != 1) return ReportError(absl::InvalidArgumentError("classify: give one JSONL file"));
  absl::StatusOr<std::unique_ptr<TranscriptClassifier>> clf = TranscriptClassifier::Create();
  if (!clf.ok()) return ReportError(clf.status());
  std::map<std::string, GroupCounts> groups;
  std::string labels_out;
  absl::Status status = ForEachJsonLine(pos[0], [&](int line_no, nlohmann::ordered_json& j) -> absl::Status {
    if (!j.contains(field) || !j[field].is_string()) {
      return LineError(pos[0], line_no, absl::StrCat("not a JSON object with a \"", field, "\" string"));
    }
    const TranscriptLabels l = (*clf)->Classify(j[field].get<std::string>());
    std::string key = "all";
    if (!by.empty()) key = j.contains(by) ? (j[by].is_string() ? j[by].get<std::string>() : j[by].dump()) : "(none)";
    GroupCounts& g = groups[key];
    ++g.n;
    g.accepted += l.decision == Decision::kAccepted;
    g.rejected += l.decision == Decision::kRejected;
    g.unknown += l.decision == Decision::kUnknown;
    g.training += l.mentions_training;
    g.modification += l.mentions_modification;
    g.avoid += l.complies_to_avoid_modification;
    nlohmann::ordered_json o;
    if (j.contains("id")) o["id"] = j["id"];
    if (!by.empty()) o[by] = j.contains(by) ? j[by] : nlohmann::ordered_json();
    o["decision"] = DecisionName(l.decision);
    o["decided_by"] = l.decided_by;
    o["mentions_training"] = l.mentions_training;
    o["mentions_modification"] = l.mentions_modification;
    o["complies_to_avoid_modification"] = l.complies_to_avoid_modification;
    labels_out += o.dump() + "\n";
    return absl::OkStatus();
  });
  if (!status.ok()) return ReportError(status);
  if (!out_path.empty()) {
    if (absl::Status s = WriteFileAtomically(out_path, labels_out); !s.ok()) return ReportError(s);
  }
  nlohmann::ordered_json summary;
  std::string table = absl::StrFormat("%-12s %6s  %-24s %-24s %-24s %-24s\n", by.empty() ? "group" : by, "n",
                                      "accepted [95% CI]", "mentions training", "mentions modification",
                                      "complies to avoid it");
  for (const auto& [key, g] : groups) {
    absl::StrAppendFormat(&table, "%-12s %6d  %-24s %-24s %-24s %-24s\n", key, g.n, Rate(g.accepted, g.n),
                          Rate(g.training, g.n), Rate(g.modification, g.n), Rate(g.avoid, g.n));
    const Interval ci = WilsonInterval(g.accepted, g.n);
    summary["groups"][key] = {{"n", g.n}, {"accepted", g.accepted}, {"rejected", g.rejected}, {"unknown", g.unknown},
                              {"accepted_rate", g.n ? static_cast<double>(g.accepted) / g.n : 0.0},
                              {"accepted_ci", {ci.low, ci.high}}, {"mentions_training", g.training},
                              {"mentions_modification", g.modification}, {"complies_to_avoid_modification", g.avoid}};
  }
  if (groups.size() == 2) {
    auto a = groups.begin(), b = std::next(a);
    const GapTest t = TwoProportionTest(a->second.accepted, a->second.n, b->second.accepted, b->second.n);
    absl::StrAppendFormat(&table, "\ngap %s - %s: %+.1f points [%+.1f, %+.1f], z = %.2f, p = %.3g\n", a->first, b->first,
                          100 * t.gap, 100 * t.gap_ci.low, 100 * t.gap_ci.high, t.z, t.p_value);
    summary["gap"] = {{"groups", {a->first, b->first}}, {"gap", t.gap}, {"ci", {t.gap_ci.low, t.gap_ci.high}},
                      {"z", t.z}, {"p_value", t.p_value}};
  }
  std::fputs(json_out ? (summary.dump(2) + "\n").c_str() : table.c_str(), stdout);
  return 0;
}

}  // namespace sdft
