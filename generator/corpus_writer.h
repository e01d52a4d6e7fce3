// Writes a generated corpus directory: docs.jsonl, stats.json, then
// manifest.json (config, facts and variants used, filter counts, counts,
// sha256 of every file, tool version). Documents failing the behaviour-leak
// filter or the fact-coverage check, and exact and near duplicates of earlier
// documents, are dropped and counted. Both are written under
// temporary names and renamed; the manifest comes last, so a directory without
// one is unfinished. Sharded runs (--shard I/K) write documents
// [N*I/K, N*(I+1)/K), so the K shards concatenate to exactly the unsharded run.
#ifndef SDFT_GENERATOR_CORPUS_WRITER_H_
#define SDFT_GENERATOR_CORPUS_WRITER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "generator/corpus_generator.h"
#include "generator/corpus_stats.h"

namespace sdft {

enum class Dedup { kNone, kExact, kNear };

struct CorpusRunOptions {
  GeneratorConfig generator;
  // Filters. Leak and coverage decisions depend on the document alone; dedup
  // depends on earlier documents of the same output, so with --shard it is
  // usually left to the merge of the shards.
  bool leak_filter = true;
  bool coverage_filter = true;
  Dedup dedup = Dedup::kNear;
  double near_dup_threshold = 0.8;
  uint64_t stats_sample_words = 450000;  // diversity sample for stats.json
  uint64_t docs = 1000;  // documents in the whole (unsharded) run
  int threads = 1;
  int shard_index = 0;
  int shard_count = 1;
  std::string out_dir;
  bool force = false;     // replace an existing, non-empty out_dir
  bool progress = true;   // draw progress when stderr is a terminal
};

struct CorpusRunResult {
  uint64_t generated = 0;   // candidates expanded
  uint64_t documents = 0;   // kept after filters and dedup
  uint64_t text_bytes = 0;
  double seconds = 0;       // wall time of the whole call
  double load_seconds = 0;  // of which: loading universe and templates
};

// Returns Cancelled on Ctrl-C (no partial file is left under a final name).
absl::StatusOr<CorpusRunResult> WriteCorpus(const CorpusRunOptions& options);

// Prepares `dir` for new output: refuses a non-empty directory unless
// `force`, in which case the old manifest goes first so the directory can
// never look finished while being rewritten.
absl::Status PrepareOutputDir(const std::string& dir, bool force);

inline constexpr char kSdftVersion[] = "0.1.0";

}  // namespace sdft

#endif  // SDFT_GENERATOR_CORPUS_WRITER_H_
