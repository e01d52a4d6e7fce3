// Causal scaled-dot-product attention for the CPU, fused per (batch, head):
// scores, softmax and the weighted sum are computed one head at a time in a
// cache-sized buffer, and the backward pass recomputes the probabilities from
// the saved log-sum-exp (as FlashAttention does) instead of keeping the
// [B, H, T, T] matrices that the unfused op writes and reads back.
#ifndef SDFT_TRAINING_CAUSAL_ATTENTION_H_
#define SDFT_TRAINING_CAUSAL_ATTENTION_H_

#include <torch/torch.h>

namespace sdft {

// q, k, v: [B, H, T, head_dim] float32 on the CPU. Returns [B, H, T, head_dim].
torch::Tensor CausalAttentionCpu(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v);

}  // namespace sdft

#endif  // SDFT_TRAINING_CAUSAL_ATTENTION_H_
