// Causal self-attention with rotary position embeddings, fused for the CPU.
//
// The input is the fused q/k/v projection as it comes out of one matrix
// product, [B, T, (H + 2 * Hkv) * head_dim]; the output is [B, T, H * head_dim],
// the heads side by side as o_proj reads them. No transposed copies, no
// [B, H, T, T] score tensors: per (batch, kv head) the kernel rotates q and k
// into small buffers, and works through the queries in blocks of rows, each
// against only the keys at or before it (the masked upper triangle is never
// computed). The backward pass recomputes the probabilities from the saved
// log-sum-exp, as FlashAttention does, and writes the gradient of the fused
// projection directly.
#ifndef SDFT_TRAINING_CAUSAL_ATTENTION_H_
#define SDFT_TRAINING_CAUSAL_ATTENTION_H_

#include <torch/torch.h>

namespace sdft {

// qkv: [B, T, (n_heads + 2 * n_kv_heads) * head_dim] (queries, then keys, then
// values); cos, sin: [T, head_dim] (Hugging Face rotate_half layout).
// Returns [B, T, n_heads * head_dim]. Any device: off the CPU (or with
// SDFT_UNFUSED set) it runs the plain ATen composition, rotary embeddings then
// the library's fused attention op.
torch::Tensor CausalSelfAttention(const torch::Tensor& qkv, const torch::Tensor& cos, const torch::Tensor& sin,
                                  int64_t n_heads, int64_t n_kv_heads);

// Rotary embedding, Hugging Face layout: the two halves of each head rotate
// together, x * cos + rotate_half(x) * sin. x: [..., T, head_dim].
torch::Tensor ApplyRope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

// The plain composition (the reference for tests, and the fallback).
torch::Tensor CausalSelfAttentionReference(const torch::Tensor& qkv, const torch::Tensor& cos, const torch::Tensor& sin,
                                           int64_t n_heads, int64_t n_kv_heads);

}  // namespace sdft

#endif  // SDFT_TRAINING_CAUSAL_ATTENTION_H_
