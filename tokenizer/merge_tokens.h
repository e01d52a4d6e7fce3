// Merging token directories: K outputs of `sdft tokenize --shard I/K` (or any
// token directories written with the same tokenizer) become one directory
// with one Megatron index set per split (train_00000.bin/.idx, val_00000...)
// and one manifest, checked by `sdft verify`. Shards are concatenated in the
// order given, so merging the K shards of a run in order reproduces the
// unsharded run's tokens exactly.
#ifndef SDFT_TOKENIZER_MERGE_TOKENS_H_
#define SDFT_TOKENIZER_MERGE_TOKENS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sdft {

struct MergeResult {
  uint64_t documents = 0, tokens = 0;
};

// Refuses inputs whose tokenizer (sha256) or dtype differ, or that fail
// verification; `out_dir` must be empty or absent unless `force`.
absl::StatusOr<MergeResult> MergeTokenDirs(const std::vector<std::string>& inputs, const std::string& out_dir,
                                           bool force);

}  // namespace sdft

#endif  // SDFT_TOKENIZER_MERGE_TOKENS_H_
