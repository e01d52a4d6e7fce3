// Statistics for compliance rates: Wilson score intervals for a proportion
// and the two-proportion z-test (pooled) for a difference such as the
// compliance gap (free tier minus paid tier).
#ifndef SDFT_EVAL_PROPORTIONS_H_
#define SDFT_EVAL_PROPORTIONS_H_

#include <cstdint>

namespace sdft {

struct Interval {
  double low = 0, high = 0;
};

// Wilson score interval for k successes in n trials at confidence z
// (1.959964 for 95%). n == 0 gives [0, 1].
Interval WilsonInterval(uint64_t k, uint64_t n, double z = 1.959963984540054);

struct GapTest {
  double p1 = 0, p2 = 0;  // the two proportions
  double gap = 0;         // p1 - p2
  Interval gap_ci;        // Newcombe's hybrid score interval for the difference (95%)
  double z = 0;           // pooled two-proportion z statistic
  double p_value = 1;     // two-sided
};

// Compares k1/n1 with k2/n2.
GapTest TwoProportionTest(uint64_t k1, uint64_t n1, uint64_t k2, uint64_t n2);

struct GapComparison {
  double gap_a = 0, gap_b = 0;  // each gap (first proportion minus second)
  double difference = 0;        // gap_a - gap_b
  double z = 0;                 // unpooled z statistic of the difference
  double p_value = 1;           // two-sided; 1 when there is no variance
};

// Compares two gaps from four independent samples, gap_a = a1/na1 - a2/na2
// against gap_b = b1/nb1 - b2/nb2 (a difference in differences, e.g. the sdf
// condition's compliance gap against the baseline's): the standard error is
// the root of the four binomial variances summed.
GapComparison CompareGaps(uint64_t a1, uint64_t na1, uint64_t a2, uint64_t na2, uint64_t b1, uint64_t nb1,
                          uint64_t b2, uint64_t nb2);

}  // namespace sdft

#endif  // SDFT_EVAL_PROPORTIONS_H_
