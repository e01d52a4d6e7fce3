// The output layer and the cross-entropy loss fused, computed in chunks of
// rows: the [tokens, vocab] logits never exist at once (for a batch of 4,096
// tokens and a 4,096-piece vocabulary that matrix is 64 MB, written and read
// several times by the unfused ops). The backward pass recomputes each
// chunk's logits from the saved log-sum-exp.
#ifndef SDFT_TRAINING_LINEAR_CROSS_ENTROPY_H_
#define SDFT_TRAINING_LINEAR_CROSS_ENTROPY_H_

#include <torch/torch.h>

namespace sdft {

// Mean cross-entropy of softmax(hidden @ weight^T) against `targets`.
// hidden: [N, d] float32; weight: [V, d]; targets: [N] int64.
torch::Tensor LinearCrossEntropy(const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& targets);

}  // namespace sdft

#endif  // SDFT_TRAINING_LINEAR_CROSS_ENTROPY_H_
