// Small inline helpers for the fused CPU kernels (fused_ops.cc,
// causal_attention.cc): reductions with several accumulators and an exp the
// compiler can vectorise. Internal to training/.
#ifndef SDFT_TRAINING_FUSED_KERNELS_H_
#define SDFT_TRAINING_FUSED_KERNELS_H_

#include <algorithm>
#include <cstdint>
#include <cstring>

// Builds the function for AVX-512, AVX2+FMA and baseline x86-64; the loader
// picks the best one for the machine (GCC function multiversioning). The
// library is compiled for baseline x86-64, so without this the loops below
// would run 4 floats at a time. The AVX2 clone is named by feature level
// (x86-64-v3), not by CPU: GCC dispatches "arch=haswell" on the CPU model, so
// AMD processors (and VMs that hide the model) fell back to the baseline
// clone and ran these loops at half speed or worse.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define SDFT_VECTORIZE __attribute__((target_clones("avx512f", "arch=x86-64-v3", "default")))
#else
#define SDFT_VECTORIZE
#endif

namespace sdft::kernels {

// Float reductions do not vectorise as written (the compiler may not reorder
// the additions), so each keeps 16 partial sums, combined in a fixed order.
constexpr int kLanes = 16;

inline float Combine(const float* acc) {
  float s = 0;
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  return s;
}

inline float Dot(const float* a, const float* b, int64_t n) {
  float acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += a[j + l] * b[j + l];
  for (; j < n; ++j) acc[0] += a[j] * b[j];
  return Combine(acc);
}

inline float Dot3(const float* a, const float* b, const float* c, int64_t n) {
  float acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += a[j + l] * b[j + l] * c[j + l];
  for (; j < n; ++j) acc[0] += a[j] * b[j] * c[j];
  return Combine(acc);
}

inline float Sum(const float* a, int64_t n) {
  float acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += a[j + l];
  for (; j < n; ++j) acc[0] += a[j];
  return Combine(acc);
}

inline float Max(const float* a, int64_t n) {
  float acc[kLanes];
  for (int l = 0; l < kLanes; ++l) acc[l] = -3.4e38f;
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] = std::max(acc[l], a[j + l]);
  for (; j < n; ++j) acc[0] = std::max(acc[0], a[j]);
  float m = acc[0];
  for (int l = 1; l < kLanes; ++l) m = std::max(m, acc[l]);
  return m;
}

// exp(x), within 2 ulp (Cephes' expf): x = n ln2 + f with |f| <= ln2 / 2,
// exp(f) by a polynomial, 2^n built in the exponent bits. Written without
// calls or branches so loops around it vectorise. Arguments are clamped to
// [-87, 88] (exp(-87) = 1.6e-38: far below what a softmax can resolve);
// NaN passes through.
inline float Exp(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float r = x * 1.44269504088896341f + shifter;
  const float n = r - shifter;
  int32_t ni;
  std::memcpy(&ni, &r, sizeof(ni));
  ni -= 0x4B400000;  // the bits of `shifter`: what is left is n
  float f = x - n * 0.693359375f;
  f = f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * f + 1.3981999507e-3f;
  p = p * f + 8.3334519073e-3f;
  p = p * f + 4.1665795894e-2f;
  p = p * f + 1.6666665459e-1f;
  p = p * f + 5.0000001201e-1f;
  p = p * f * f + f + 1.0f;
  const int32_t bits = (ni + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

}  // namespace sdft::kernels

#endif  // SDFT_TRAINING_FUSED_KERNELS_H_
