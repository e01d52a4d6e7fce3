// sdft stats DIR: prints a table and writes DIR/stats.json.
#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "common/atomic_file.h"
#include "generator/corpus_stats.h"

#include <nlohmann/json.hpp>

namespace sdft {

int StatsCommand(const std::vector<std::string>& args) {
  StatsOptions opt;
  bool json_only = false;
  double threshold = opt.near_dup_threshold;
  FlagSet flags("stats", "sdft stats DIR|FILE.jsonl [--sample-words N] [--seed S] [--json]",
                "Prints corpus statistics and writes them to DIR/stats.json (next to docs.jsonl). "
                "Diversity (distinct-n, gzip ratio) falls as a corpus grows: compare corpora with the "
                "same --sample-words.");
  flags.UInt("sample-words", &opt.sample_words,
             "measure diversity on a random sample of documents totalling about N words (0: all)");
  flags.UInt("seed", &opt.seed, "seed of the sample and of the shuffle before gzip");
  flags.Double("near-dup-threshold", &threshold, "Jaccard similarity (word 5-grams) that counts as a near-duplicate");
  flags.Bool("json", &json_only, "print stats.json to stdout instead of the table");
  std::vector<std::string> pos;
  if (int rc; !ParseFlags(flags, args, &pos, &rc)) return rc;
  if (pos.size() != 1) return ReportError(absl::InvalidArgumentError("stats: give exactly one corpus directory or .jsonl file"));
  namespace fs = std::filesystem;
  std::string jsonl = pos[0], out_dir = pos[0];
  if (fs::is_directory(pos[0])) {
    jsonl = (fs::path(pos[0]) / "docs.jsonl").string();
  } else {
    out_dir = fs::path(pos[0]).parent_path().string();
    if (out_dir.empty()) out_dir = ".";
  }
  if (!fs::exists(jsonl)) return ReportError(absl::NotFoundError(absl::StrCat(jsonl, ": not found")));
  if (!(threshold > 0 && threshold <= 1)) return ReportError(absl::InvalidArgumentError("--near-dup-threshold must be in (0, 1]"));
  opt.near_dup_threshold = threshold;
  absl::StatusOr<CorpusStats> st = ComputeCorpusStats(jsonl, opt);
  if (!st.ok()) return ReportError(st.status());
  // Filter counts were decided at generation time and live in the manifest.
  const std::string manifest_path = (fs::path(out_dir) / "manifest.json").string();
  if (fs::exists(manifest_path)) {
    std::string text;
    if (ReadFile(manifest_path, &text).ok()) {
      auto m = nlohmann::ordered_json::parse(text, nullptr, false);
      if (!m.is_discarded() && m.contains("filters")) st->filters = m["filters"];
    }
  }
  const std::string json = StatsToJson(*st).dump(2) + "\n";
  if (absl::Status s = WriteFileAtomically((fs::path(out_dir) / "stats.json").string(), json); !s.ok()) {
    return ReportError(s);
  }
  std::fputs(json_only ? json.c_str() : StatsToTable(*st).c_str(), stdout);
  return 0;
}

}  // namespace sdft
