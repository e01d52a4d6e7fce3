#include "generator/minhash.h"

#include <algorithm>
#include <cctype>
#include <limits>

#include "common/hash.h"
#include "generator/words.h"

namespace sdft {
namespace {


}  // namespace

MinHashSignature ComputeMinHash(std::string_view text) {
  // Hash each lowercased word, then each window of 5 word hashes.
  std::vector<uint64_t> words;
  std::string scratch;
  ForEachWord(text, &scratch, [&](std::string_view w) { words.push_back(Hash64(w, 0x5EED)); });
  MinHashSignature sig;
  sig.fill(std::numeric_limits<uint32_t>::max());
  auto add = [&](uint64_t h) {
    const int bin = static_cast<int>(h % kMinHashSize);
    const uint32_t v = static_cast<uint32_t>(h >> 32);
    if (v < sig[bin]) sig[bin] = v;
  };
  if (words.size() < kShingleWords) {
    uint64_t h = 0x9E3779B97F4A7C15ULL;
    for (uint64_t x : words) h = Mix64(h ^ x, 0xBF58476D1CE4E5B9ULL);
    add(h);
  } else {
    for (size_t i = 0; i + kShingleWords <= words.size(); ++i) {
      uint64_t h = 0x9E3779B97F4A7C15ULL;
      for (int k = 0; k < kShingleWords; ++k) h = Mix64(h ^ words[i + k], 0xBF58476D1CE4E5B9ULL);
      add(h);
    }
  }
  // Densification: empty bins borrow from the next non-empty bin (circularly),
  // salted by the distance, so short documents still compare fairly.
  bool any = false;
  for (uint32_t v : sig) any |= v != std::numeric_limits<uint32_t>::max();
  if (any) {
    MinHashSignature dense = sig;
    for (int b = 0; b < kMinHashSize; ++b) {
      if (sig[b] != std::numeric_limits<uint32_t>::max()) continue;
      for (int d = 1; d < kMinHashSize; ++d) {
        uint32_t v = sig[(b + d) % kMinHashSize];
        if (v != std::numeric_limits<uint32_t>::max()) {
          dense[b] = static_cast<uint32_t>(Mix64(v, 0x2545F4914F6CDD1DULL + d));
          break;
        }
      }
    }
    sig = dense;
  }
  return sig;
}

double EstimateJaccard(const MinHashSignature& a, const MinHashSignature& b) {
  int same = 0;
  for (int i = 0; i < kMinHashSize; ++i) same += a[i] == b[i];
  return static_cast<double>(same) / kMinHashSize;
}

uint64_t NearDuplicateIndex::BandKey(const MinHashSignature& sig, int band) {
  uint64_t h = 0x84222325CBF29CE4ULL + band;
  for (int r = 0; r < kRows; ++r) h = Mix64(h ^ sig[band * kRows + r], 0x100000001B3ULL);
  return h;
}

// Candidates are checked newest first, at most kMaxCandidates of them per
// query: on pathological corpora (thousands of mutually similar documents
// below the threshold) this keeps dedup linear, at a small cost in recall.
template <typename Fn>
void NearDuplicateIndex::ForCandidates(const MinHashSignature& sig, Fn fn) const {
  int checked = 0;
  std::vector<uint32_t> seen;
  for (int b = 0; b < kBands && checked < kMaxCandidates; ++b) {
    auto it = buckets_[b].find(BandKey(sig, b));
    if (it == buckets_[b].end()) continue;
    const std::vector<uint32_t>& list = it->second;
    for (auto k = list.rbegin(); k != list.rend() && checked < kMaxCandidates; ++k) {
      if (std::find(seen.begin(), seen.end(), *k) != seen.end()) continue;
      seen.push_back(*k);
      ++checked;
      if (!fn(*k)) return;
    }
  }
}

int64_t NearDuplicateIndex::FindSimilar(const MinHashSignature& sig) const {
  int64_t found = -1;
  ForCandidates(sig, [&](uint32_t k) {
    if (EstimateJaccard(sig, sigs_[k]) >= threshold_) {
      found = ids_[k];
      return false;
    }
    return true;
  });
  return found;
}

int NearDuplicateIndex::CountSimilar(const MinHashSignature& sig) const {
  int count = 0;
  ForCandidates(sig, [&](uint32_t k) {
    count += EstimateJaccard(sig, sigs_[k]) >= threshold_;
    return true;
  });
  return count;
}

void NearDuplicateIndex::Insert(int64_t id, const MinHashSignature& sig) {
  const uint32_t k = static_cast<uint32_t>(sigs_.size());
  sigs_.push_back(sig);
  ids_.push_back(id);
  for (int b = 0; b < kBands; ++b) buckets_[b][BandKey(sig, b)].push_back(k);
}

}  // namespace sdft
