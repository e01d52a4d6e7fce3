// Stable, fast 64-bit hashing of bytes (a wyhash-style multiply-mix). Unlike
// absl::Hash it never changes between runs or builds, so it may decide
// outputs (dedup keys, MinHash signatures, samples).
#ifndef SDFT_COMMON_HASH_H_
#define SDFT_COMMON_HASH_H_

#include <cstdint>
#include <cstring>
#include <string_view>

namespace sdft {

inline uint64_t Mix64(uint64_t a, uint64_t b) {
  __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

inline uint64_t Hash64(std::string_view s, uint64_t seed = 0) {
  constexpr uint64_t k0 = 0xa0761d6478bd642fULL, k1 = 0xe7037ed1a0b428dbULL, k2 = 0x8ebc6af09c88c6e3ULL;
  const char* p = s.data();
  size_t n = s.size();
  uint64_t h = seed ^ Mix64(seed ^ k0, k1) ^ n;
  while (n >= 16) {
    uint64_t a, b;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + 8, 8);
    h = Mix64(a ^ k1 ^ h, b ^ k2);
    p += 16;
    n -= 16;
  }
  uint64_t a = 0, b = 0;
  if (n >= 8) {
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + n - 8, 8);
  } else if (n > 0) {
    std::memcpy(&a, p, n);
  }
  return Mix64(k1 ^ n, Mix64(a ^ k1 ^ h, b ^ k2 ^ seed));
}

}  // namespace sdft

#endif  // SDFT_COMMON_HASH_H_
