// sdft stats DIR: prints a table and writes DIR/stats.json.
#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "common/atomic_file.h"
#include "generator/corpus_stats.h"

namespace sdft {

int StatsCommand(const std::vector<std::string>& args) {
  StatsOptions opt;
  bool json_only = false;
  FlagSet flags("stats", "sdft stats DIR|FILE.jsonl [--sample-words N] [--seed S] [--json]",
                "Prints corpus statistics and writes them to DIR/stats.json (next to docs.jsonl). "
                "Diversity (distinct-n, gzip ratio) falls as a corpus grows: compare corpora with the "
                "same --sample-words.");
  flags.UInt("sample-words", &opt.sample_words,
             "measure diversity on a random sample of documents totalling about N words (0: all)");
  flags.UInt("seed", &opt.seed, "seed of the sample and of the shuffle before gzip");
  flags.Bool("json", &json_only, "print stats.json to stdout instead of the table");
  std::vector<std::string> pos;
  bool help = false;
  if (absl::Status s = flags.Parse(args, &pos, &help); !s.ok()) return ReportError(s);
  if (help) {
    std::fputs(flags.Help().c_str(), stdout);
    return 0;
  }
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
  absl::StatusOr<CorpusStats> st = ComputeCorpusStats(jsonl, opt);
  if (!st.ok()) return ReportError(st.status());
  const std::string json = StatsToJson(*st);
  if (absl::Status s = WriteFileAtomically((fs::path(out_dir) / "stats.json").string(), json); !s.ok()) {
    return ReportError(s);
  }
  std::fputs(json_only ? json.c_str() : StatsToTable(*st).c_str(), stdout);
  return 0;
}

}  // namespace sdft
