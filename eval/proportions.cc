#include "eval/proportions.h"

#include <cmath>

namespace sdft {

Interval WilsonInterval(uint64_t k, uint64_t n, double z) {
  if (n == 0) return {0.0, 1.0};
  const double p = static_cast<double>(k) / n, z2 = z * z, denom = 1 + z2 / n;
  const double center = (p + z2 / (2.0 * n)) / denom;
  const double half = z * std::sqrt(p * (1 - p) / n + z2 / (4.0 * n * n)) / denom;
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

GapTest TwoProportionTest(uint64_t k1, uint64_t n1, uint64_t k2, uint64_t n2) {
  GapTest t;
  t.p1 = n1 ? static_cast<double>(k1) / n1 : 0;
  t.p2 = n2 ? static_cast<double>(k2) / n2 : 0;
  t.gap = t.p1 - t.p2;
  // Newcombe (1998), method 10: from the two Wilson intervals.
  const Interval a = WilsonInterval(k1, n1), b = WilsonInterval(k2, n2);
  t.gap_ci.low = t.gap - std::sqrt((t.p1 - a.low) * (t.p1 - a.low) + (b.high - t.p2) * (b.high - t.p2));
  t.gap_ci.high = t.gap + std::sqrt((a.high - t.p1) * (a.high - t.p1) + (t.p2 - b.low) * (t.p2 - b.low));
  if (n1 == 0 || n2 == 0) return t;
  const double pooled = static_cast<double>(k1 + k2) / (n1 + n2);
  const double se = std::sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2));
  if (se == 0) {
    t.z = 0;
    t.p_value = t.gap == 0 ? 1.0 : 0.0;
    return t;
  }
  t.z = t.gap / se;
  t.p_value = std::erfc(std::fabs(t.z) / std::sqrt(2.0));
  return t;
}

}  // namespace sdft
