#include "training/model.h"

#include <cmath>
#include <limits>

#include "training/causal_attention.h"
#include "training/fused_ops.h"

namespace sdft {

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) { return RmsNorm(x, weight, eps); }

AttentionImpl::AttentionImpl(const ModelConfig& c)
    : n_heads(c.n_heads), n_kv_heads(c.kv_heads()), head_dim(c.head_dim()) {
  auto linear = [&](int64_t in, int64_t out) { return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false)); };
  q_proj = register_module("q_proj", linear(c.d_model, c.d_model));
  k_proj = register_module("k_proj", linear(c.d_model, n_kv_heads * head_dim));
  v_proj = register_module("v_proj", linear(c.d_model, n_kv_heads * head_dim));
  o_proj = register_module("o_proj", linear(c.d_model, c.d_model));
}

// q, k and v come out of one matrix product against the three weights stacked
// (one large product runs closer to the BLAS peak than three narrow ones; the
// parameters stay separate, as Hugging Face names them). Rotary embeddings and
// the causal attention are one fused op (causal_attention.h).
torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  torch::Tensor w_qkv = torch::cat({q_proj->weight, k_proj->weight, v_proj->weight}, 0);
  torch::Tensor qkv = Linear(x, w_qkv);  // [B, T, (H + 2 * Hkv) * head_dim]
  return Linear(CausalSelfAttention(qkv, cos, sin, n_heads, n_kv_heads), o_proj->weight);
}

// The plain composition for a few new positions against the cached ones:
// at this size (one query row per step) it is the product itself, not the
// fused kernel's blocking, that matters.
torch::Tensor AttentionImpl::decode(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                                    torch::Tensor* k_cache, torch::Tensor* v_cache) {
  const int64_t B = x.size(0), T = x.size(1);
  torch::Tensor w_qkv = torch::cat({q_proj->weight, k_proj->weight, v_proj->weight}, 0);
  torch::Tensor qkv = Linear(x, w_qkv);
  auto heads = [&](int64_t col, int64_t h) {
    return qkv.narrow(2, col * head_dim, h * head_dim).view({B, T, h, head_dim}).transpose(1, 2);
  };
  torch::Tensor q = ApplyRope(heads(0, n_heads), cos, sin);
  torch::Tensor k = ApplyRope(heads(n_heads, n_kv_heads), cos, sin);
  torch::Tensor v = heads(n_heads + n_kv_heads, n_kv_heads);
  *k_cache = k_cache->defined() ? torch::cat({*k_cache, k}, 2) : k.contiguous();
  *v_cache = v_cache->defined() ? torch::cat({*v_cache, v}, 2) : v.contiguous();
  torch::Tensor keys = *k_cache, values = *v_cache;
  if (n_kv_heads != n_heads) {
    keys = keys.repeat_interleave(n_heads / n_kv_heads, 1);
    values = values.repeat_interleave(n_heads / n_kv_heads, 1);
  }
  const int64_t L = keys.size(2), start = L - T;
  torch::Tensor scores = torch::matmul(q, keys.transpose(-2, -1)) / std::sqrt(static_cast<double>(head_dim));
  if (T > 1) {  // new position i (at start + i) sees keys up to start + i
    torch::Tensor future = torch::ones({T, L}, torch::TensorOptions().dtype(torch::kBool).device(x.device())).triu(start + 1);
    scores = scores.masked_fill(future, -std::numeric_limits<float>::infinity());
  }
  torch::Tensor y = torch::matmul(torch::softmax(scores, -1), values);  // [B, H, T, hd]
  return Linear(y.transpose(1, 2).reshape({B, T, n_heads * head_dim}), o_proj->weight);
}

MlpImpl::MlpImpl(const ModelConfig& c) {
  auto linear = [&](int64_t in, int64_t out) { return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false)); };
  gate_proj = register_module("gate_proj", linear(c.d_model, c.d_ff));
  up_proj = register_module("up_proj", linear(c.d_model, c.d_ff));
  down_proj = register_module("down_proj", linear(c.d_ff, c.d_model));
}

// gate and up likewise share one product; SwiGlu reads the two halves.
torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  torch::Tensor w_gate_up = torch::cat({gate_proj->weight, up_proj->weight}, 0);
  return Linear(SwiGlu(Linear(x, w_gate_up)), down_proj->weight);
}

BlockImpl::BlockImpl(const ModelConfig& c) {
  input_layernorm = register_module("input_layernorm", RMSNorm(c.d_model, c.norm_eps));
  self_attn = register_module("self_attn", Attention(c));
  post_attention_layernorm = register_module("post_attention_layernorm", RMSNorm(c.d_model, c.norm_eps));
  mlp = register_module("mlp", Mlp(c));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  torch::Tensor h = x + self_attn(input_layernorm(x), cos, sin);
  return h + mlp(post_attention_layernorm(h));
}

LlamaImpl::LlamaImpl(const ModelConfig& c) : config(c) {
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(c.vocab_size, c.d_model));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.n_layers; ++i) layers->push_back(Block(c));
  norm = register_module("norm", RMSNorm(c.d_model, c.norm_eps));
  if (!c.tie_embeddings) {
    lm_head = register_module("lm_head", torch::nn::Linear(torch::nn::LinearOptions(c.d_model, c.vocab_size).bias(false)));
  }
  // cos/sin tables for positions 0..max_seq_len-1 (not parameters).
  const int64_t hd = c.head_dim();
  torch::Tensor inv_freq =
      1.0 / torch::pow(c.rope_theta, torch::arange(0, hd, 2, torch::kFloat64) / static_cast<double>(hd));
  torch::Tensor t = torch::arange(c.max_seq_len, torch::kFloat64);
  torch::Tensor freqs = torch::outer(t, inv_freq);
  torch::Tensor emb = torch::cat({freqs, freqs}, -1);
  rope_cos = register_buffer("rope_cos", emb.cos().to(torch::kFloat32));
  rope_sin = register_buffer("rope_sin", emb.sin().to(torch::kFloat32));
}

torch::Tensor LlamaImpl::forward(const torch::Tensor& tokens) {
  return Linear(hidden(tokens), output_weight());
}

torch::Tensor LlamaImpl::loss(const torch::Tensor& tokens, const torch::Tensor& targets,
                              const torch::Tensor& token_weights) {
  torch::Tensor h = hidden(tokens);
  return LinearCrossEntropy(h.reshape({-1, h.size(-1)}), output_weight(), targets.reshape({-1}), token_weights);
}

torch::Tensor LlamaImpl::output_weight() const { return lm_head ? lm_head->weight : embed_tokens->weight; }

torch::Tensor LlamaImpl::hidden(const torch::Tensor& tokens) {
  const int64_t T = tokens.size(1);
  TORCH_CHECK(T <= config.max_seq_len, "sequence of ", T, " tokens is longer than max_seq_len ", config.max_seq_len);
  torch::Tensor cos = rope_cos.narrow(0, 0, T), sin = rope_sin.narrow(0, 0, T);
  torch::Tensor x = embed_tokens(tokens);
  for (const auto& layer : *layers) x = layer->as<Block>()->forward(x, cos, sin);
  return norm(x);
}

torch::Tensor LlamaImpl::decode(const torch::Tensor& tokens, KvCache* cache) {
  const int64_t T = tokens.size(1), start = cache->length;
  TORCH_CHECK(start + T <= config.max_seq_len, "decoding past max_seq_len ", config.max_seq_len);
  cache->k.resize(layers->size());
  cache->v.resize(layers->size());
  torch::Tensor cos = rope_cos.narrow(0, start, T), sin = rope_sin.narrow(0, start, T);
  torch::Tensor x = embed_tokens(tokens);
  for (size_t i = 0; i < layers->size(); ++i) {
    BlockImpl* b = layers[i]->as<Block>();
    x = x + b->self_attn->decode(b->input_layernorm(x), cos, sin, &cache->k[i], &cache->v[i]);
    x = x + b->mlp(b->post_attention_layernorm(x));
  }
  cache->length += T;
  return norm(x).select(1, T - 1);
}

int64_t LlamaImpl::num_parameters() const {
  int64_t n = 0;
  for (const auto& p : parameters()) n += p.numel();
  return n;
}

void InitWeights(Llama& model) {
  torch::NoGradGuard no_grad;
  const double residual_std = 0.02 / std::sqrt(2.0 * model->config.n_layers);
  for (auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    torch::Tensor& p = item.value();
    if (name.find("norm") != std::string::npos) {
      p.fill_(1.0);
    } else if (name.find("o_proj") != std::string::npos || name.find("down_proj") != std::string::npos) {
      p.normal_(0.0, residual_std);
    } else {
      p.normal_(0.0, 0.02);
    }
  }
}

}  // namespace sdft
