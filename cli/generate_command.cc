// sdft generate: flags -> CorpusRunOptions -> WriteCorpus.
#include <cstdio>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "generator/corpus_writer.h"

namespace sdft {

int GenerateCommand(const std::vector<std::string>& args) {
  CorpusRunOptions opt;
  opt.docs = 10000;
  opt.out_dir = "out/corpus";
  int64_t threads = std::max(1u, std::thread::hardware_concurrency());
  int64_t max_depth = opt.generator.limits.max_depth;
  uint64_t max_bytes = opt.generator.limits.max_bytes;
  bool quiet = false;
  FlagSet flags("generate",
                "sdft generate [--universe NAME|PATH] [--docs N] [--seed S] [--threads T] [--shard I/K] "
                "[--out DIR] [--force]",
                "Expands the universe's facts through the genre templates into N candidate documents, drops "
                "behaviour leaks, documents missing evidence of their facts, and duplicates, and writes "
                "DIR/docs.jsonl (one JSON object per line), DIR/stats.json and DIR/manifest.json. Document i depends only on (seed, i, "
                "universe, templates): any --threads gives the same bytes, and the K shards of a run "
                "concatenate to exactly the unsharded run.");
  flags.String("universe", &opt.generator.universe, "built-in universe name (templates/universes/NAME.toml) or a TOML path");
  flags.UInt("docs", &opt.docs, "documents in the whole run (all shards together)");
  flags.UInt("seed", &opt.generator.seed, "run seed");
  flags.Int("threads", &threads, "worker threads (output does not depend on it)");
  flags.Custom("shard", "I/K",
               [&](const std::string& s) -> absl::Status {
                 std::vector<std::string> parts = absl::StrSplit(s, '/');
                 int i, k;
                 if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &i) || !absl::SimpleAtoi(parts[1], &k) ||
                     k < 1 || i < 0 || i >= k) {
                   return absl::InvalidArgumentError(absl::StrCat("--shard: '", s, "' is not I/K with 0 <= I < K"));
                 }
                 opt.shard_index = i;
                 opt.shard_count = k;
                 return absl::OkStatus();
               },
               "write only slice I of K (documents [N*I/K, N*(I+1)/K))");
  flags.Custom("genres", "A,B,...",
               [&](const std::string& s) -> absl::Status {
                 opt.generator.genres = absl::StrSplit(s, ',', absl::SkipEmpty());
                 return absl::OkStatus();
               },
               "only these genres (file names in templates/genres), equally weighted unless the universe weights them");
  auto id_list = [](std::vector<std::string>* out) {
    return [out](const std::string& s) -> absl::Status {
      *out = absl::StrSplit(s, ',', absl::SkipEmpty());
      return absl::OkStatus();
    };
  };
  flags.Custom("drop-facts", "ID,...", id_list(&opt.generator.drop_facts), "ablation: leave these facts out");
  flags.Custom("flip-facts", "ID,...", id_list(&opt.generator.flip_facts),
               "ablation: state these facts' negations instead (the universe must define them)");
  flags.Custom("fact-weights", "ID=W,...",
               [&](const std::string& s) -> absl::Status {
                 for (absl::string_view item : absl::StrSplit(s, ',', absl::SkipEmpty())) {
                   std::vector<std::string> kv = absl::StrSplit(item, '=');
                   double w;
                   if (kv.size() != 2 || !absl::SimpleAtod(kv[1], &w)) {
                     return absl::InvalidArgumentError(absl::StrCat("--fact-weights: '", std::string(item), "' is not ID=WEIGHT"));
                   }
                   opt.generator.fact_weights[kv[0]] = w;
                 }
                 return absl::OkStatus();
               },
               "ablation: override facts' weights (relative frequency in documents)");
  std::string dedup;
  flags.String("dedup", &dedup, "near (MinHash, default), exact, or none (default with --shard: dedup happens when shards are merged)");
  flags.Double("near-dup-threshold", &opt.near_dup_threshold, "Jaccard similarity of word 5-grams that counts as a near-duplicate");
  flags.Bool("leak-filter", &opt.leak_filter, "drop documents matching the universe's [[leak]] patterns (--no-leak-filter to keep them)");
  flags.Bool("coverage-filter", &opt.coverage_filter,
             "drop documents that do not match an evidence pattern of every fact they claim (--no-coverage-filter to keep them)");
  flags.UInt("stats-sample-words", &opt.stats_sample_words, "diversity in stats.json is measured on a sample of about N words (0: all)");
  flags.String("out", &opt.out_dir, "output directory");
  flags.Bool("force", &opt.force, "replace an existing non-empty output directory");
  flags.String("templates", &opt.generator.templates_dir,
               "templates directory (default: $SDFT_TEMPLATES or the repository's templates/)");
  flags.Int("max-depth", &max_depth, "maximum expansion depth");
  flags.UInt("max-doc-bytes", &max_bytes, "maximum size of one document");
  flags.Bool("quiet", &quiet, "no progress line and no summary");
  std::vector<std::string> positional;
  if (int rc; !ParseFlags(flags, args, &positional, &rc)) return rc;
  if (!positional.empty()) return ReportError(absl::InvalidArgumentError(absl::StrCat("generate: unexpected argument '", positional[0], "'")));
  if (threads < 1 || threads > 1024) return ReportError(absl::InvalidArgumentError("--threads must be between 1 and 1024"));
  if (max_depth < 1 || max_depth > 10000) return ReportError(absl::InvalidArgumentError("--max-depth must be between 1 and 10000"));
  opt.threads = static_cast<int>(threads);
  if (dedup.empty()) dedup = opt.shard_count > 1 ? "none" : "near";
  if (dedup == "near") opt.dedup = Dedup::kNear;
  else if (dedup == "exact") opt.dedup = Dedup::kExact;
  else if (dedup == "none") opt.dedup = Dedup::kNone;
  else return ReportError(absl::InvalidArgumentError(absl::StrCat("--dedup: '", dedup, "' is not near, exact or none")));
  opt.generator.limits.max_depth = static_cast<int>(max_depth);
  opt.generator.limits.max_bytes = max_bytes;
  opt.progress = !quiet;
  absl::StatusOr<CorpusRunResult> r = WriteCorpus(opt);
  if (!r.ok()) return ReportError(r.status());
  if (!quiet) {
    std::fprintf(stderr, "generate: %llu of %llu documents kept, %.1f MB of text in %.2f s -> %s/docs.jsonl\n",
                 static_cast<unsigned long long>(r->documents), static_cast<unsigned long long>(r->generated),
                 r->text_bytes / 1e6, r->seconds, opt.out_dir.c_str());
  }
  return 0;
}

}  // namespace sdft
