#include "training/token_data.h"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"
#include "common/rng.h"

namespace sdft {

absl::StatusOr<std::unique_ptr<TokenData>> TokenData::Open(const std::string& tokdir, const std::string& split) {
  const std::string manifest_path = (std::filesystem::path(tokdir) / "manifest.json").string();
  std::string text;
  if (absl::Status s = ReadFile(manifest_path, &text); !s.ok()) {
    return absl::NotFoundError(absl::StrCat(tokdir, ": not a finished token directory (no manifest.json; run sdft tokenize)"));
  }
  auto m = nlohmann::json::parse(text, nullptr, false);
  if (m.is_discarded() || m.value("kind", "") != "tokens") {
    return absl::DataLossError(absl::StrCat(manifest_path, ": not a token manifest"));
  }
  std::unique_ptr<TokenData> d(new TokenData);
  d->vocab_size_ = m["tokenizer"]["vocab_size"];
  d->eos_ = m["tokenizer"]["special"]["eos"];
  if (!m["splits"].contains(split)) return absl::NotFoundError(absl::StrCat(manifest_path, ": no '", split, "' split"));
  for (const auto& shard : m["splits"][split]["shards"]) {
    const std::string prefix = (std::filesystem::path(tokdir) / shard["prefix"].get<std::string>()).string();
    absl::StatusOr<std::unique_ptr<IndexedDataset>> ds = IndexedDataset::Open(prefix);
    if (!ds.ok()) return ds.status();
    const uint32_t si = static_cast<uint32_t>(d->shards_.size());
    for (size_t i = 0; i < (*ds)->size(); ++i) {
      d->seq_start_.push_back(d->total_);
      d->seq_ref_.emplace_back(si, static_cast<uint32_t>(i));
      d->total_ += (*ds)->length(i);
    }
    d->shards_.push_back(std::move(*ds));
  }
  if (d->total_ == 0) return absl::InvalidArgumentError(absl::StrCat(tokdir, ": the '", split, "' split holds no tokens"));
  return d;
}

void TokenData::Read(uint64_t pos, int64_t n, int32_t* out) const {
  size_t s = std::upper_bound(seq_start_.begin(), seq_start_.end(), pos) - seq_start_.begin() - 1;
  while (n > 0) {
    const auto [shard, seq] = seq_ref_[s];
    const IndexedDataset& ds = *shards_[shard];
    const uint64_t offset = pos - seq_start_[s];
    const int64_t take = std::min<int64_t>(n, ds.length(seq) - static_cast<int64_t>(offset));
    ds.Read(seq, offset, take, out);
    out += take;
    n -= take;
    pos += take;
    s = (s + 1) % seq_start_.size();  // wraps around at the end of the stream
    if (s == 0) pos = 0;
  }
}

torch::Tensor TokenData::BatchRows(uint64_t seed, int64_t step, int64_t micro, int64_t row_begin, int64_t row_end,
                                   int64_t len, bool align) const {
  const int64_t rows = row_end - row_begin;
  std::vector<int32_t> buf(static_cast<size_t>(rows * len));
  for (int64_t b = row_begin; b < row_end; ++b) {
    Rng rng(MixSeed(MixSeed(MixSeed(seed, static_cast<uint64_t>(step)), static_cast<uint64_t>(micro)), b));
    const uint64_t span = total_ > static_cast<uint64_t>(len) ? total_ - len : 1;
    Read(align ? seq_start_[rng.Below(seq_start_.size())] : rng.Below(span), len, buf.data() + (b - row_begin) * len);
  }
  return torch::from_blob(buf.data(), {rows, len}, torch::kInt32).to(torch::kInt64);
}

}  // namespace sdft
