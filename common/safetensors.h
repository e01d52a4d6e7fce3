// Reading and writing Hugging Face safetensors files without LibTorch.
//
// Layout (https://github.com/huggingface/safetensors): a little-endian uint64
// N, then N bytes of UTF-8 JSON header, then the data buffer. The header maps
// each tensor name to {"dtype": "F32", "shape": [..], "data_offsets": [begin,
// end]} (offsets relative to the start of the data buffer, end exclusive) and
// may hold "__metadata__", a string-to-string map. Tensors are contiguous,
// row-major, little-endian; the buffer has no holes and nothing after the last
// tensor. The header is padded with spaces to a multiple of 8 bytes.
//
// The writer lays tensors out as the reference implementation does (by
// descending element size, then by name; for a file with one dtype that is
// name order) so every tensor is aligned to its element size, and its output
// is byte-identical to the reference's for the same tensors and metadata (up
// to the order of metadata keys, sorted here). Files are written atomically.
// The reader checks everything the reference does, and rejects duplicate keys;
// errors name the file.
#ifndef SDFT_COMMON_SAFETENSORS_H_
#define SDFT_COMMON_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sdft {

enum class StDtype { kF32, kF16, kBF16, kF64, kI64, kI32, kI16, kI8, kU8, kBool };

// Bytes per element (1 for kBool).
int StDtypeBytes(StDtype dtype);
// The header spelling: "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8",
// "U8", "BOOL".
std::string StDtypeName(StDtype dtype);
// The inverse of StDtypeName; nullopt for a spelling this reader does not know.
std::optional<StDtype> StDtypeFromName(std::string_view name);

struct StTensor {
  std::string name;
  StDtype dtype = StDtype::kF32;
  std::vector<int64_t> shape;  // {} is a scalar (one element); a 0 dim is empty
  std::string data;            // raw little-endian bytes, row-major

  // Product of the dims (1 for a scalar).
  int64_t NumElements() const;
};

// Writes `tensors` and `metadata` to `path` atomically. InvalidArgument (naming
// the path and the tensor) when a tensor's data size does not match its shape
// and dtype, a dim is negative, names repeat, a name is "__metadata__", or a
// name or metadata string is not valid UTF-8.
absl::Status WriteSafetensors(const std::string& path, const std::vector<StTensor>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

// Serializes to bytes (what WriteSafetensors writes). `what` names the output
// in error messages.
absl::StatusOr<std::string> EncodeSafetensors(const std::vector<StTensor>& tensors,
                                              const std::map<std::string, std::string>& metadata,
                                              const std::string& what = "safetensors");

struct SafetensorsFile {
  std::vector<StTensor> tensors;  // sorted by name
  std::map<std::string, std::string> metadata;

  // The tensor called `name`, or nullptr.
  const StTensor* Find(const std::string& name) const;
};

// Reads and validates a whole file: header size within the file (and at most
// 100 MB), header a JSON object starting with '{', no duplicate keys, every
// dtype known, every shape's byte size equal to its data_offsets span, the
// offsets tiling the data buffer exactly (no overlap, no hole, no trailing
// bytes), "__metadata__" a map of strings. NotFound for a missing file;
// DataLoss "<path>: truncated ..." / "<path>: corrupted header: ..." /
// "<path>: tensor '<name>': ..." for a bad one.
absl::StatusOr<SafetensorsFile> ReadSafetensors(const std::string& path);

}  // namespace sdft

#endif  // SDFT_COMMON_SAFETENSORS_H_
