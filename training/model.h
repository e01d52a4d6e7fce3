// A small Llama-style decoder-only transformer in LibTorch: token embedding,
// RMSNorm, rotary position embeddings (Hugging Face "rotate_half" layout),
// causal multi-head attention, SwiGLU MLP, optional tied embeddings; on the
// CPU, RMSNorm, attention with its rotary embeddings, SwiGLU and the loss run
// as fused kernels (fused_ops.h, causal_attention.h). Parameter names follow
// Hugging Face's LlamaForCausalLM (minus the "model." prefix), so export is a
// renaming.
#ifndef SDFT_TRAINING_MODEL_H_
#define SDFT_TRAINING_MODEL_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sdft {

struct ModelConfig {
  int64_t vocab_size = 0;
  int64_t d_model = 128;
  int64_t n_layers = 4;
  int64_t n_heads = 4;
  int64_t d_ff = 384;        // SwiGLU hidden size
  int64_t max_seq_len = 128;
  double norm_eps = 1e-5;
  double rope_theta = 10000.0;
  bool tie_embeddings = true;
  int64_t n_kv_heads = 0;    // grouped-query attention; 0: = n_heads

  int64_t head_dim() const { return d_model / n_heads; }
  int64_t kv_heads() const { return n_kv_heads > 0 ? n_kv_heads : n_heads; }
};

struct RMSNormImpl : torch::nn::Module {
  RMSNormImpl(int64_t dim, double eps);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

// Incremental decoding: each layer's rotated keys and values for the
// positions fed so far, so that sampling a token costs one position's work
// instead of a forward pass over the whole context.
struct KvCache {
  std::vector<torch::Tensor> k, v;  // per layer: [B, n_kv_heads, length, head_dim]
  int64_t length = 0;
};

struct AttentionImpl : torch::nn::Module {
  explicit AttentionImpl(const ModelConfig& c);
  // x: [B, T, D]; cos/sin: [T, head_dim]
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);
  // x: [B, T, D], the T positions after those in k_cache/v_cache (appended to).
  torch::Tensor decode(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin, torch::Tensor* k_cache,
                       torch::Tensor* v_cache);
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  int64_t n_heads, n_kv_heads, head_dim;
};
TORCH_MODULE(Attention);

struct MlpImpl : torch::nn::Module {
  explicit MlpImpl(const ModelConfig& c);
  torch::Tensor forward(const torch::Tensor& x);  // down(silu(gate(x)) * up(x))
  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

struct BlockImpl : torch::nn::Module {
  explicit BlockImpl(const ModelConfig& c);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(Block);

struct LlamaImpl : torch::nn::Module {
  explicit LlamaImpl(const ModelConfig& c);
  // tokens: [B, T] int64 -> logits [B, T, vocab]
  torch::Tensor forward(const torch::Tensor& tokens);
  // The final normed hidden states [B, T, d], and the output layer's weight
  // [vocab, d] (the embedding when tied): logits = hidden @ weight^T.
  torch::Tensor hidden(const torch::Tensor& tokens);
  // Feeds tokens [B, T] at positions cache->length.. (the total at most
  // max_seq_len) and returns the final normed hidden state of the last one,
  // [B, d]: the same as hidden() over the whole sequence, position by
  // position (up to float rounding).
  torch::Tensor decode(const torch::Tensor& tokens, KvCache* cache);
  // Mean next-token cross-entropy of tokens [B, T] against targets [B, T]:
  // the output layer and the loss fused (fused_ops.h), never holding the
  // log-probabilities. Same value as cross_entropy(forward(tokens), targets).
  // token_weights [vocab], when defined, weights each target's loss (fused_ops.h).
  torch::Tensor loss(const torch::Tensor& tokens, const torch::Tensor& targets, const torch::Tensor& token_weights = {});
  torch::Tensor output_weight() const;
  int64_t num_parameters() const;

  ModelConfig config;
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers;
  RMSNorm norm{nullptr};
  torch::nn::Linear lm_head{nullptr};  // null when tied to embed_tokens
  torch::Tensor rope_cos, rope_sin;    // buffers: [max_seq_len, head_dim]
};
TORCH_MODULE(Llama);

// Weight initialisation (GPT-2 style: N(0, 0.02), residual projections
// scaled by 1/sqrt(2 * n_layers), norms at 1), from the global torch seed.
void InitWeights(Llama& model);

}  // namespace sdft

#endif  // SDFT_TRAINING_MODEL_H_
