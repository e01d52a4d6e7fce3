// Merging the K shards of one `sdft generate --shard I/K` run into one corpus
// directory: docs.jsonl in shard order (= document id order), deduplicated
// across shards (exact, and near with MinHash, as generate does within one
// output), a fresh stats.json, and one manifest whose filter counts add the
// shards' to the merge's own. The shards must come from the same run
// (configuration and template hashes equal) and be complete: 0..K-1.
#ifndef SDFT_GENERATOR_CORPUS_MERGE_H_
#define SDFT_GENERATOR_CORPUS_MERGE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "generator/corpus_writer.h"

namespace sdft {

struct CorpusMergeOptions {
  std::vector<std::string> inputs;  // shard directories, any order
  std::string out_dir;
  Dedup dedup = Dedup::kNear;
  double near_dup_threshold = 0.8;
  bool force = false;
  bool progress = true;
};

struct CorpusMergeResult {
  uint64_t read = 0, documents = 0;
};

absl::StatusOr<CorpusMergeResult> MergeCorpusShards(const CorpusMergeOptions& options);

}  // namespace sdft

#endif  // SDFT_GENERATOR_CORPUS_MERGE_H_
