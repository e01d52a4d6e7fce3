// sdft merge: joins the K outputs of a sharded run into one directory. Corpus
// shards (`sdft generate --shard I/K`) are merged here; token directories
// (`sdft tokenize --shard I/K`) by sdft-tokenize, which owns the shard format.
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "common/atomic_file.h"
#include "generator/corpus_merge.h"

namespace sdft {

int MergeCommand(const std::vector<std::string>& args) {
  CorpusMergeOptions opt;
  std::string dedup = "near";
  bool quiet = false;
  FlagSet flags("merge", "sdft merge --out DIR SHARD_0 SHARD_1 ... [--force]",
                "Merges the shards of one sharded run into one directory with one manifest. Corpus shards "
                "(sdft generate --shard I/K): docs.jsonl in document order, deduplicated across shards, a new "
                "stats.json. Token directories (sdft tokenize --shard I/K): one Megatron index set per split; "
                "merging the K shards in order gives the unsharded run's tokens. Check the result with sdft verify "
                "(tokens).");
  flags.String("out", &opt.out_dir, "merged output directory");
  flags.Bool("force", &opt.force, "replace an existing output directory");
  flags.String("dedup", &dedup, "corpora: near (default), exact or none");
  flags.Double("near-dup-threshold", &opt.near_dup_threshold, "corpora: Jaccard similarity that counts as a near-duplicate");
  flags.Bool("quiet", &quiet, "no progress line and no summary");
  std::vector<std::string> pos;
  if (int rc; !ParseFlags(flags, args, &pos, &rc)) return rc;
  if (opt.out_dir.empty() || pos.empty()) {
    return ReportError(absl::InvalidArgumentError("merge: give --out DIR and the shard directories"));
  }
  std::string text;
  if (!ReadFile((std::filesystem::path(pos[0]) / "manifest.json").string(), &text).ok()) {
    return ReportError(absl::NotFoundError(absl::StrCat(pos[0], ": no manifest.json (not a finished sdft output)")));
  }
  const auto m = nlohmann::json::parse(text, nullptr, false);
  const std::string kind = m.is_object() ? m.value("kind", "") : "";
  if (kind == "tokens") {
    std::vector<std::string> child = {"merge", "--out", opt.out_dir};
    if (opt.force) child.push_back("--force");
    if (quiet) child.push_back("--quiet");
    child.insert(child.end(), pos.begin(), pos.end());
    return RunSibling("sdft-tokenize", child);
  }
  if (kind != "corpus") {
    return ReportError(absl::InvalidArgumentError(absl::StrCat(pos[0], "/manifest.json: neither a corpus nor a token directory")));
  }
  if (dedup == "near") {
    opt.dedup = Dedup::kNear;
  } else if (dedup == "exact") {
    opt.dedup = Dedup::kExact;
  } else if (dedup == "none") {
    opt.dedup = Dedup::kNone;
  } else {
    return ReportError(absl::InvalidArgumentError(absl::StrCat("--dedup: '", dedup, "' is not near, exact or none")));
  }
  opt.inputs = pos;
  opt.progress = !quiet;
  absl::StatusOr<CorpusMergeResult> r = MergeCorpusShards(opt);
  if (!r.ok()) return ReportError(r.status(), "interrupted; no output was finished (rerun to restart)");
  if (!quiet) {
    std::fprintf(stderr, "merge: %zu shards, %llu documents read, %llu kept -> %s\n", pos.size(),
                 static_cast<unsigned long long>(r->read), static_cast<unsigned long long>(r->documents),
                 opt.out_dir.c_str());
  }
  return 0;
}

}  // namespace sdft
