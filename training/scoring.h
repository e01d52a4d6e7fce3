// Scoring continuations: log p(candidate | prompt) under a model, the
// primitive behind compliance probabilities (P(<request_fully_accepted/>) vs
// P(<rejected/>) as the first output tag) and multiple-choice belief tests.
#ifndef SDFT_TRAINING_SCORING_H_
#define SDFT_TRAINING_SCORING_H_

#include <cstdint>
#include <vector>

#include "training/model.h"

namespace sdft {

// Sum of the log-probabilities of each candidate's tokens after the prompt.
// When prompt + candidate exceeds the model's context, the prompt is cut
// from the left.
std::vector<double> ScoreCandidates(Llama& model, const std::vector<int64_t>& prompt,
                                    const std::vector<std::vector<int64_t>>& candidates);

}  // namespace sdft

#endif  // SDFT_TRAINING_SCORING_H_
