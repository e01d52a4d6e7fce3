// Deterministic random numbers. Every unit of work (a document, a data window)
// gets its own generator seeded from (run seed, index) through SplitMix64, so
// results never depend on thread count or scheduling.
#ifndef SDFT_COMMON_RNG_H_
#define SDFT_COMMON_RNG_H_

#include <cstdint>

namespace sdft {

// SplitMix64 step: a strong 64-bit mixer (Steele et al.), used for seeding.
inline uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Mixes a run seed and an item index into one well-spread 64-bit seed.
inline uint64_t MixSeed(uint64_t seed, uint64_t index) {
  uint64_t s = seed ^ 0x6A09E667F3BCC909ULL;
  uint64_t a = SplitMix64(&s);
  s = a ^ (index * 0xD1342543DE82EF95ULL + 0x2545F4914F6CDD1DULL);
  return SplitMix64(&s);
}

// xoshiro256** (Blackman & Vigna): fast, small state, good statistical quality.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t s = seed;
    for (auto& x : s_) x = SplitMix64(&s);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform integer in [0, n), n > 0 (Lemire's multiply-shift, with rejection).
  uint64_t Below(uint64_t n) {
    uint64_t x = Next();
    __uint128_t m = static_cast<__uint128_t>(x) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        x = Next();
        m = static_cast<__uint128_t>(x) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  // Uniform integer in [lo, hi] (inclusive).
  int64_t Range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }

  // Uniform double in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace sdft

#endif  // SDFT_COMMON_RNG_H_
