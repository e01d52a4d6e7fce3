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

}  // namespace sdft

#endif  // SDFT_EVAL_PROPORTIONS_H_
