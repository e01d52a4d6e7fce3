// Training data: the Megatron shards of one split of a token directory,
// memory-mapped and seen as one stream of tokens (documents end in EOS).
// Windows of seq_len + 1 tokens are drawn at positions that depend only on
// (seed, step, micro-batch, row), so a resumed run sees the same data.
#ifndef SDFT_TRAINING_TOKEN_DATA_H_
#define SDFT_TRAINING_TOKEN_DATA_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tokenizer/megatron_shard.h"

namespace sdft {

class TokenData {
 public:
  // Opens TOKDIR's `split` ("train" or "val") as listed in its manifest.
  static absl::StatusOr<std::unique_ptr<TokenData>> Open(const std::string& tokdir, const std::string& split);

  uint64_t total_tokens() const { return total_; }
  int64_t vocab_size() const { return vocab_size_; }
  int32_t eos_id() const { return eos_; }

  // Copies tokens [pos, pos + n) of the stream into `out`.
  void Read(uint64_t pos, int64_t n, int32_t* out) const;
  // A [batch, len] int64 tensor of windows for (seed, step, micro); with
  // `align`, each window starts at the first token of a random document.
  torch::Tensor Batch(uint64_t seed, int64_t step, int64_t micro, int64_t batch, int64_t len,
                      bool align = false) const {
    return BatchRows(seed, step, micro, 0, batch, len, align);
  }
  // Rows [row_begin, row_end) of that batch: a row depends only on (seed,
  // step, micro, row), so data-parallel ranks each read their own rows and
  // together see exactly the single-process batch.
  torch::Tensor BatchRows(uint64_t seed, int64_t step, int64_t micro, int64_t row_begin, int64_t row_end, int64_t len,
                          bool align = false) const;

 private:
  std::vector<std::unique_ptr<IndexedDataset>> shards_;
  std::vector<uint64_t> seq_start_;  // stream offset of every sequence
  std::vector<std::pair<uint32_t, uint32_t>> seq_ref_;  // (shard, sequence)
  uint64_t total_ = 0;
  int64_t vocab_size_ = 0;
  int32_t eos_ = 0;
};

}  // namespace sdft

#endif  // SDFT_TRAINING_TOKEN_DATA_H_
