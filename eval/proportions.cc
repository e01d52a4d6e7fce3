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

GapComparison CompareGaps(uint64_t a1, uint64_t na1, uint64_t a2, uint64_t na2, uint64_t b1, uint64_t nb1,
                          uint64_t b2, uint64_t nb2) {
  double var = 0;
  auto rate = [&var](uint64_t k, uint64_t n) {
    if (n == 0) return 0.0;
    const double p = static_cast<double>(k) / n;
    var += p * (1 - p) / n;
    return p;
  };
  GapComparison c;
  c.gap_a = rate(a1, na1) - rate(a2, na2);
  c.gap_b = rate(b1, nb1) - rate(b2, nb2);
  c.difference = c.gap_a - c.gap_b;
  if (var > 0) {
    c.z = c.difference / std::sqrt(var);
    c.p_value = std::erfc(std::fabs(c.z) / std::sqrt(2.0));
  }
  return c;
}

}  // namespace sdft
