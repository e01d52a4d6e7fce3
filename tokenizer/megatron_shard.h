// Megatron-LM indexed datasets (the MMIDIDX .bin/.idx pair that Megatron-LM,
// NeMo and GPT-NeoX read), written streaming and read memory-mapped.
//
// .bin: the tokens of every sequence, back to back, little-endian.
// .idx: "MMIDIDX\0\0", uint64 version (1), uint8 dtype code (8 = uint16,
//       4 = int32), uint64 sequence count N, uint64 document count D (= N + 1
//       here: one sequence per document), int32 sizes[N] (tokens),
//       int64 pointers[N] (byte offsets into .bin), int64 doc_idx[D]
//       (0, 1, ..., N). See docs/formats.md.
#ifndef SDFT_TOKENIZER_MEGATRON_SHARD_H_
#define SDFT_TOKENIZER_MEGATRON_SHARD_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/atomic_file.h"

namespace sdft {

enum class TokenDtype : uint8_t { kUint8 = 1, kInt8 = 2, kInt16 = 3, kInt32 = 4, kInt64 = 5, kUint16 = 8 };
int DtypeBytes(TokenDtype d);
// uint16 when every id fits (vocab < 65500, Megatron's rule), else int32.
TokenDtype DtypeForVocab(int64_t vocab_size);

class ShardWriter {
 public:
  // Writes `prefix`.bin and `prefix`.idx (under temporary names until Finish).
  absl::Status Open(const std::string& prefix, TokenDtype dtype);
  // Appends one document (one sequence).
  absl::Status Add(const int32_t* tokens, size_t n);
  // Writes the index and renames both files into place (.idx last).
  absl::Status Finish();

  uint64_t bin_bytes() const { return bin_bytes_; }
  uint64_t sequences() const { return sizes_.size(); }
  uint64_t tokens() const { return tokens_; }

 private:
  std::string prefix_;
  TokenDtype dtype_ = TokenDtype::kUint16;
  AtomicFile bin_;
  std::vector<int32_t> sizes_;
  std::vector<int64_t> pointers_;
  uint64_t bin_bytes_ = 0, tokens_ = 0;
  std::string buf_;
};

// Serializes an index (used by ShardWriter; exposed for tests).
std::string EncodeMegatronIndex(TokenDtype dtype, const std::vector<int32_t>& sizes,
                                const std::vector<int64_t>& pointers, const std::vector<int64_t>& doc_idx);

// A read-only, memory-mapped indexed dataset. Open() checks the header, the
// index against the .bin size, and names the file at fault.
class IndexedDataset {
 public:
  ~IndexedDataset();
  static absl::StatusOr<std::unique_ptr<IndexedDataset>> Open(const std::string& prefix);

  size_t size() const { return sizes_.size(); }          // sequences
  size_t num_documents() const { return doc_idx_.size(); }
  TokenDtype dtype() const { return dtype_; }
  int32_t length(size_t i) const { return sizes_[i]; }
  uint64_t total_tokens() const { return total_tokens_; }
  // Copies tokens [offset, offset + n) of sequence i into `out`.
  void Read(size_t i, size_t offset, size_t n, int32_t* out) const;
  std::vector<int32_t> Sequence(size_t i) const;
  const std::vector<int64_t>& doc_idx() const { return doc_idx_; }
  const std::vector<int64_t>& pointers() const { return pointers_; }

 private:
  IndexedDataset() = default;
  TokenDtype dtype_ = TokenDtype::kUint16;
  std::vector<int32_t> sizes_;
  std::vector<int64_t> pointers_, doc_idx_;
  uint64_t total_tokens_ = 0;
  const uint8_t* bin_ = nullptr;
  size_t bin_size_ = 0;
};

}  // namespace sdft

#endif  // SDFT_TOKENIZER_MEGATRON_SHARD_H_
