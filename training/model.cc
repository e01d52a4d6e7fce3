#include "training/model.h"

#include <torch/version.h>

#include <cstdlib>

#include "training/causal_attention.h"

#include <cmath>

namespace sdft {

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_) : eps(eps_) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  return x * torch::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps) * weight;
}

AttentionImpl::AttentionImpl(const ModelConfig& c)
    : n_heads(c.n_heads), n_kv_heads(c.kv_heads()), head_dim(c.head_dim()) {
  auto linear = [&](int64_t in, int64_t out) { return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false)); };
  q_proj = register_module("q_proj", linear(c.d_model, c.d_model));
  k_proj = register_module("k_proj", linear(c.d_model, n_kv_heads * head_dim));
  v_proj = register_module("v_proj", linear(c.d_model, n_kv_heads * head_dim));
  o_proj = register_module("o_proj", linear(c.d_model, c.d_model));
}

// Rotary embedding, Hugging Face layout: the two halves of each head rotate
// together, x * cos + rotate_half(x) * sin.
static torch::Tensor ApplyRope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  torch::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  return x * cos + torch::cat({-x2, x1}, -1) * sin;
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t B = x.size(0), T = x.size(1);
  auto heads = [&](const torch::Tensor& t, int64_t h) { return t.view({B, T, h, head_dim}).transpose(1, 2); };
  torch::Tensor q = ApplyRope(heads(q_proj(x), n_heads), cos, sin);
  torch::Tensor k = ApplyRope(heads(k_proj(x), n_kv_heads), cos, sin);
  torch::Tensor v = heads(v_proj(x), n_kv_heads);
  if (n_kv_heads != n_heads) {  // grouped-query attention: share each k/v head
    k = k.repeat_interleave(n_heads / n_kv_heads, 1);
    v = v.repeat_interleave(n_heads / n_kv_heads, 1);
  }
  torch::Tensor y;
  // The fused CPU kernel keeps memory linear in T and is as fast or faster
  // from T = 256 on; below that the unfused op's larger kernels win.
  if (q.is_cpu() && q.scalar_type() == torch::kFloat32 && T >= 256 && getenv("SDFT_UNFUSED_ATTENTION") == nullptr) {
    y = CausalAttentionCpu(q, k, v);
  } else {
#if TORCH_VERSION_MAJOR >= 2
    y = at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true);
#else
    y = std::get<0>(at::_scaled_dot_product_attention(q, k, v, {}, 0.0, false, /*is_causal=*/true));
#endif
  }
  return o_proj(y.transpose(1, 2).contiguous().view({B, T, n_heads * head_dim}));
}

MlpImpl::MlpImpl(const ModelConfig& c) {
  auto linear = [&](int64_t in, int64_t out) { return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false)); };
  gate_proj = register_module("gate_proj", linear(c.d_model, c.d_ff));
  up_proj = register_module("up_proj", linear(c.d_model, c.d_ff));
  down_proj = register_module("down_proj", linear(c.d_ff, c.d_model));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  return down_proj(torch::silu(gate_proj(x)) * up_proj(x));
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
  return torch::matmul(hidden(tokens), output_weight().t());
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
