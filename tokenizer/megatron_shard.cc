#include "tokenizer/megatron_shard.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace sdft {
namespace {

constexpr char kMagic[9] = {'M', 'M', 'I', 'D', 'I', 'D', 'X', '\0', '\0'};
constexpr uint64_t kVersion = 1;
constexpr size_t kHeaderBytes = 9 + 8 + 1 + 8 + 8;

template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(v));
}

template <typename T>
T Get(const std::string& s, size_t at) {
  T v;
  std::memcpy(&v, s.data() + at, sizeof(v));
  return v;
}

}  // namespace

int DtypeBytes(TokenDtype d) {
  switch (d) {
    case TokenDtype::kUint8: case TokenDtype::kInt8: return 1;
    case TokenDtype::kInt16: case TokenDtype::kUint16: return 2;
    case TokenDtype::kInt32: return 4;
    case TokenDtype::kInt64: return 8;
  }
  return 0;
}

TokenDtype DtypeForVocab(int64_t vocab_size) { return vocab_size < 65500 ? TokenDtype::kUint16 : TokenDtype::kInt32; }

std::string EncodeMegatronIndex(TokenDtype dtype, const std::vector<int32_t>& sizes,
                                const std::vector<int64_t>& pointers, const std::vector<int64_t>& doc_idx) {
  std::string out(kMagic, sizeof(kMagic));
  Put<uint64_t>(&out, kVersion);
  Put<uint8_t>(&out, static_cast<uint8_t>(dtype));
  Put<uint64_t>(&out, sizes.size());
  Put<uint64_t>(&out, doc_idx.size());
  out.append(reinterpret_cast<const char*>(sizes.data()), sizes.size() * sizeof(int32_t));
  out.append(reinterpret_cast<const char*>(pointers.data()), pointers.size() * sizeof(int64_t));
  out.append(reinterpret_cast<const char*>(doc_idx.data()), doc_idx.size() * sizeof(int64_t));
  return out;
}

absl::Status ShardWriter::Open(const std::string& prefix, TokenDtype dtype) {
  prefix_ = prefix;
  dtype_ = dtype;
  sizes_.clear();
  pointers_.clear();
  bin_bytes_ = tokens_ = 0;
  return bin_.Open(prefix + ".bin");
}

absl::Status ShardWriter::Add(const int32_t* tokens, size_t n) {
  const int width = DtypeBytes(dtype_);
  buf_.resize(n * width);
  if (dtype_ == TokenDtype::kUint16) {
    for (size_t i = 0; i < n; ++i) {
      uint16_t v = static_cast<uint16_t>(tokens[i]);
      std::memcpy(&buf_[i * 2], &v, 2);
    }
  } else {
    std::memcpy(buf_.data(), tokens, n * 4);
  }
  if (absl::Status s = bin_.Write(buf_); !s.ok()) return s;
  pointers_.push_back(static_cast<int64_t>(bin_bytes_));
  sizes_.push_back(static_cast<int32_t>(n));
  bin_bytes_ += buf_.size();
  tokens_ += n;
  return absl::OkStatus();
}

absl::Status ShardWriter::Finish() {
  if (absl::Status s = bin_.Commit(); !s.ok()) return s;
  std::vector<int64_t> doc_idx(sizes_.size() + 1);
  for (size_t i = 0; i < doc_idx.size(); ++i) doc_idx[i] = static_cast<int64_t>(i);
  return WriteFileAtomically(prefix_ + ".idx", EncodeMegatronIndex(dtype_, sizes_, pointers_, doc_idx));
}

IndexedDataset::~IndexedDataset() {
  if (bin_ != nullptr && bin_size_ > 0) munmap(const_cast<uint8_t*>(bin_), bin_size_);
}

absl::StatusOr<std::unique_ptr<IndexedDataset>> IndexedDataset::Open(const std::string& prefix) {
  const std::string idx_path = prefix + ".idx", bin_path = prefix + ".bin";
  std::string idx;
  if (absl::Status s = ReadFile(idx_path, &idx); !s.ok()) return s;
  auto bad = [&](const std::string& what) { return absl::DataLossError(absl::StrCat(idx_path, ": ", what)); };
  if (idx.size() < kHeaderBytes) return bad(absl::StrCat("truncated (", idx.size(), " bytes, shorter than the header)"));
  if (std::memcmp(idx.data(), kMagic, sizeof(kMagic)) != 0) return bad("not a Megatron index (bad magic)");
  if (Get<uint64_t>(idx, 9) != kVersion) return bad(absl::StrCat("unsupported version ", Get<uint64_t>(idx, 9)));
  std::unique_ptr<IndexedDataset> ds(new IndexedDataset);
  ds->dtype_ = static_cast<TokenDtype>(Get<uint8_t>(idx, 17));
  if (ds->dtype_ != TokenDtype::kUint16 && ds->dtype_ != TokenDtype::kInt32) {
    return bad(absl::StrCat("unsupported dtype code ", static_cast<int>(ds->dtype_), " (sdft reads 8 = uint16 and 4 = int32)"));
  }
  const uint64_t n = Get<uint64_t>(idx, 18), d = Get<uint64_t>(idx, 26);
  const uint64_t expect = kHeaderBytes + n * 4 + n * 8 + d * 8;
  if (n > (1ULL << 40) || d > (1ULL << 40) || idx.size() != expect) {
    return bad(absl::StrCat(idx.size() < expect ? "truncated" : "corrupted", ": ", idx.size(), " bytes, header says ",
                            expect));
  }
  ds->sizes_.resize(n);
  ds->pointers_.resize(n);
  ds->doc_idx_.resize(d);
  std::memcpy(ds->sizes_.data(), idx.data() + kHeaderBytes, n * 4);
  std::memcpy(ds->pointers_.data(), idx.data() + kHeaderBytes + n * 4, n * 8);
  std::memcpy(ds->doc_idx_.data(), idx.data() + kHeaderBytes + n * 12, d * 8);
  const int width = DtypeBytes(ds->dtype_);
  uint64_t pos = 0;
  for (uint64_t i = 0; i < n; ++i) {
    if (ds->sizes_[i] < 0 || ds->pointers_[i] != static_cast<int64_t>(pos)) {
      return bad(absl::StrCat("corrupted: sequence ", i, " does not follow the previous one"));
    }
    pos += static_cast<uint64_t>(ds->sizes_[i]) * width;
    ds->total_tokens_ += ds->sizes_[i];
  }
  for (uint64_t i = 0; i < d; ++i) {
    if (ds->doc_idx_[i] < 0 || ds->doc_idx_[i] > static_cast<int64_t>(n) || (i > 0 && ds->doc_idx_[i] < ds->doc_idx_[i - 1])) {
      return bad("corrupted: document index out of order");
    }
  }
  int fd = open(bin_path.c_str(), O_RDONLY);
  if (fd < 0) return absl::NotFoundError(absl::StrCat(bin_path, ": cannot open: ", std::strerror(errno)));
  struct stat st;
  fstat(fd, &st);
  if (static_cast<uint64_t>(st.st_size) != pos) {
    close(fd);
    return absl::DataLossError(absl::StrCat(bin_path, ": ", static_cast<uint64_t>(st.st_size) < pos ? "truncated" : "corrupted",
                                            ": ", st.st_size, " bytes, the index says ", pos));
  }
  if (pos > 0) {
    void* m = mmap(nullptr, pos, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
      close(fd);
      return absl::InternalError(absl::StrCat(bin_path, ": mmap failed: ", std::strerror(errno)));
    }
    ds->bin_ = static_cast<const uint8_t*>(m);
    ds->bin_size_ = pos;
  }
  close(fd);
  return ds;
}

void IndexedDataset::Read(size_t i, size_t offset, size_t n, int32_t* out) const {
  const uint8_t* p = bin_ + pointers_[i];
  if (dtype_ == TokenDtype::kUint16) {
    for (size_t k = 0; k < n; ++k) {
      uint16_t v;
      std::memcpy(&v, p + 2 * (offset + k), 2);
      out[k] = v;
    }
  } else {
    std::memcpy(out, p + 4 * offset, n * 4);
  }
}

std::vector<int32_t> IndexedDataset::Sequence(size_t i) const {
  std::vector<int32_t> v(sizes_[i]);
  Read(i, 0, v.size(), v.data());
  return v;
}

}  // namespace sdft
