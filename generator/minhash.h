// Near-duplicate detection: MinHash signatures over word 5-gram shingles
// (one-permutation hashing with densification: each shingle is hashed once),
// and an LSH index (16 bands of 8 rows) that finds earlier documents whose
// estimated Jaccard similarity reaches a threshold. Deterministic: decisions
// depend only on the texts and the order they are inserted in.
#ifndef SDFT_GENERATOR_MINHASH_H_
#define SDFT_GENERATOR_MINHASH_H_

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace sdft {

inline constexpr int kMinHashSize = 128;
inline constexpr int kShingleWords = 5;
using MinHashSignature = std::array<uint32_t, kMinHashSize>;

// Lowercased words (letters, digits, apostrophes) joined into 5-word shingles.
MinHashSignature ComputeMinHash(std::string_view text);

// Fraction of equal positions: an estimate of the Jaccard similarity.
double EstimateJaccard(const MinHashSignature& a, const MinHashSignature& b);

class NearDuplicateIndex {
 public:
  explicit NearDuplicateIndex(double threshold = 0.8) : threshold_(threshold) {}

  // Returns the id of an indexed document at least `threshold` similar to
  // `sig`, or -1. Does not insert.
  int64_t FindSimilar(const MinHashSignature& sig) const;
  // Counts indexed documents at least `threshold` similar to `sig`.
  int CountSimilar(const MinHashSignature& sig) const;
  void Insert(int64_t id, const MinHashSignature& sig);
  size_t size() const { return sigs_.size(); }

 private:
  static constexpr int kBands = 16, kRows = 8, kMaxCandidates = 256;
  template <typename Fn>
  void ForCandidates(const MinHashSignature& sig, Fn fn) const;
  static uint64_t BandKey(const MinHashSignature& sig, int band);
  double threshold_;
  std::vector<MinHashSignature> sigs_;
  std::vector<int64_t> ids_;
  absl::flat_hash_map<uint64_t, std::vector<uint32_t>> buckets_[kBands];
};

}  // namespace sdft

#endif  // SDFT_GENERATOR_MINHASH_H_
