#include "eval/seed_summary.h"

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/atomic_file.h"

namespace sdft {
namespace {

using nlohmann::json;

std::string StringOr(const json& j, const char* key, const std::string& fallback) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// Markdown table cells: a '|' would end the cell, a newline the row.
std::string Cell(const std::string& s) { return absl::StrReplaceAll(s, {{"|", "\\|"}, {"\n", " "}}); }

}  // namespace

json SummarizeSeeds(const std::vector<SeedRun>& runs) {
  json out = {{"experiment", "n/a"}, {"preset", "n/a"}, {"seeds", json::array()},
              {"runs", json::array()}, {"checks", json::array()}};
  if (!runs.empty()) {
    out["experiment"] = StringOr(runs[0].report, "experiment", "n/a");
    out["preset"] = StringOr(runs[0].report, "preset", "n/a");
  }
  // Every check name in first-seen order, then each run's result for it.
  std::vector<std::string> names;
  std::map<std::string, std::string> target;
  for (const SeedRun& r : runs) {
    const json* checks = r.report.is_object() && r.report.contains("checks") ? &r.report["checks"] : nullptr;
    if (checks == nullptr || !checks->is_array()) continue;
    for (const json& c : *checks) {
      const std::string name = StringOr(c, "name", "");
      if (name.empty() || target.count(name)) continue;
      names.push_back(name);
      target[name] = StringOr(c, "target", "n/a");
    }
  }
  std::vector<json> rows(names.size());
  std::map<std::string, size_t> row_of;
  for (size_t i = 0; i < names.size(); ++i) {
    row_of[names[i]] = i;
    rows[i] = {{"name", names[i]}, {"target", target[names[i]]}, {"passed", 0}, {"seeds", runs.size()},
               {"results", json::array()}};
  }
  for (const SeedRun& r : runs) {
    out["seeds"].push_back(r.seed);
    std::map<std::string, std::pair<std::string, bool>> got;  // name -> (value, pass)
    const json* checks = r.report.is_object() && r.report.contains("checks") ? &r.report["checks"] : nullptr;
    if (checks != nullptr && checks->is_array()) {
      for (const json& c : *checks) {
        const std::string name = StringOr(c, "name", "");
        if (name.empty() || got.count(name)) continue;
        const bool pass = c.is_object() && c.contains("pass") && c["pass"].is_boolean() && c["pass"].get<bool>();
        got[name] = {StringOr(c, "value", "n/a"), pass};
      }
    }
    int passed = 0;
    for (const std::string& name : names) {
      auto it = got.find(name);
      const bool pass = it != got.end() && it->second.second;
      json& row = rows[row_of[name]];
      row["results"].push_back({{"seed", r.seed}, {"value", it != got.end() ? it->second.first : "n/a"}, {"pass", pass}});
      if (pass) {
        row["passed"] = row["passed"].get<int>() + 1;
        ++passed;
      }
    }
    out["runs"].push_back({{"seed", r.seed}, {"dir", r.dir}, {"passed", passed}, {"checks", names.size()}});
  }
  for (json& row : rows) out["checks"].push_back(std::move(row));
  return out;
}

std::string RenderSeedSummaryMarkdown(const json& s) {
  std::string md = absl::StrCat("# ", Cell(StringOr(s, "experiment", "n/a")), ": ", s["seeds"].size(),
                                " seeds (preset ", Cell(StringOr(s, "preset", "n/a")), ")\n\n");
  md += "Each seed is a complete experiment (its directory holds report.md and report.html). A result that "
        "passes for one seed and not another is not yet a result.\n\n";
  md += "| seed | checks passed | report |\n|---|---|---|\n";
  for (const json& r : s["runs"]) {
    absl::StrAppend(&md, "| ", r["seed"].get<uint64_t>(), " | ", r["passed"].get<int>(), " of ",
                    r["checks"].get<size_t>(), " | ", Cell(r["dir"].get<std::string>()), "/report.md |\n");
  }
  md += "\n| check | target | passed |";
  std::string rule = "|---|---|---|";
  for (const json& seed : s["seeds"]) {
    absl::StrAppend(&md, " seed ", seed.get<uint64_t>(), " |");
    rule += "---|";
  }
  absl::StrAppend(&md, "\n", rule, "\n");
  for (const json& c : s["checks"]) {
    absl::StrAppend(&md, "| ", Cell(c["name"].get<std::string>()), " | ", Cell(c["target"].get<std::string>()), " | ",
                    c["passed"].get<int>(), " of ", c["seeds"].get<size_t>(), " |");
    for (const json& r : c["results"]) {
      absl::StrAppend(&md, " ", r["pass"].get<bool>() ? "PASS" : "**MISS**", ": ",
                      Cell(r["value"].get<std::string>()), " |");
    }
    md += "\n";
  }
  return md;
}

absl::Status WriteSeedSummary(const json& summary, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  const std::filesystem::path d(dir);
  if (absl::Status s = WriteFileAtomically((d / "seeds.md").string(), RenderSeedSummaryMarkdown(summary)); !s.ok()) {
    return s;
  }
  return WriteFileAtomically((d / "seeds.json").string(), summary.dump(2) + "\n");
}

}  // namespace sdft
