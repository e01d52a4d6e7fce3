#include "training/causal_attention.h"

#include <ATen/Parallel.h>
#include <torch/version.h>

#include <cmath>
#include <vector>

#include "training/fused_kernels.h"
#include "training/fused_ops.h"

namespace sdft {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// Query rows per block. 32 rows keeps every per-head product at most
// 32 x 256 x 32 for contexts up to 256, which OpenBLAS runs on the calling
// thread (larger ones it hands to its own threads, which here would queue up
// behind each other: the heads are already spread over the cores).
constexpr int64_t kBlock = 32;

// out[t] = (x[t] * cos[t] + rotate_half(x[t]) * sin[t]) * scale for T rows of
// one head (x with row stride ld), into a contiguous [T, hd] buffer.
SDFT_VECTORIZE void RopeRows(const float* x, int64_t ld, const float* cos, const float* sin, int64_t T, int64_t hd,
                             float scale, float* out) {
  const int64_t half = hd / 2;
  for (int64_t t = 0; t < T; ++t) {
    const float *xt = x + t * ld, *c = cos + t * hd, *s = sin + t * hd;
    float* o = out + t * hd;
    for (int64_t j = 0; j < half; ++j) o[j] = (xt[j] * c[j] - xt[j + half] * s[j]) * scale;
    for (int64_t j = half; j < hd; ++j) o[j] = (xt[j] * c[j] + xt[j - half] * s[j]) * scale;
  }
}

// The transpose of RopeRows (its gradient): dx[j] = (dout[j] cos[j] +
// dout[j + half] sin[j + half]) for the first half, (dout[j] cos[j] -
// dout[j - half] sin[j - half]) for the second; times scale.
SDFT_VECTORIZE void RopeBackwardRows(const float* dout, const float* cos, const float* sin, int64_t T, int64_t hd,
                                     float scale, float* dx, int64_t ld) {
  const int64_t half = hd / 2;
  for (int64_t t = 0; t < T; ++t) {
    const float *g = dout + t * hd, *c = cos + t * hd, *s = sin + t * hd;
    float* d = dx + t * ld;
    for (int64_t j = 0; j < half; ++j) d[j] = (g[j] * c[j] + g[j + half] * s[j + half]) * scale;
    for (int64_t j = half; j < hd; ++j) d[j] = (g[j] * c[j] - g[j - half] * s[j - half]) * scale;
  }
}

// Rows i0..i0+m-1 of the scores, each n = i0 + m wide: row r may see keys
// 0..i0+r. Turns them into probabilities in place (zero past the diagonal)
// and records each row's log-sum-exp.
SDFT_VECTORIZE void CausalSoftmaxBlock(float* s, int64_t m, int64_t n, int64_t i0, float* lse) {
  for (int64_t r = 0; r < m; ++r) {
    float* row = s + r * n;
    const int64_t len = i0 + r + 1;
    const float mx = kernels::Max(row, len);
    for (int64_t j = 0; j < len; ++j) row[j] = kernels::Exp(row[j] - mx);
    const float sum = kernels::Sum(row, len);
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < len; ++j) row[j] *= inv;
    for (int64_t j = len; j < n; ++j) row[j] = 0;
    lse[r] = mx + std::log(sum);
  }
}

// The same rows recomputed from the saved log-sum-exp.
SDFT_VECTORIZE void CausalProbsBlock(float* s, int64_t m, int64_t n, int64_t i0, const float* lse) {
  for (int64_t r = 0; r < m; ++r) {
    float* row = s + r * n;
    const int64_t len = i0 + r + 1;
    const float l = lse[r];
    for (int64_t j = 0; j < len; ++j) row[j] = kernels::Exp(row[j] - l);
    for (int64_t j = len; j < n; ++j) row[j] = 0;
  }
}

// dS = P * (dP - rowdot), rowdot[r] = dY[r] . Y[r] (the softmax backward).
SDFT_VECTORIZE void SoftmaxBackwardBlock(float* p, const float* dp, int64_t m, int64_t n, const float* dy,
                                         const float* y, int64_t ld, int64_t hd) {
  for (int64_t r = 0; r < m; ++r) {
    const float rowdot = kernels::Dot(dy + r * ld, y + r * ld, hd);
    float* pr = p + r * n;
    const float* dpr = dp + r * n;
    for (int64_t j = 0; j < n; ++j) pr[j] = pr[j] * (dpr[j] - rowdot);
  }
}

struct Shape {
  int64_t B, T, H, Hkv, hd, C;  // C: the fused projection's width
  Shape(const torch::Tensor& qkv, int64_t n_heads, int64_t n_kv_heads)
      : B(qkv.size(0)), T(qkv.size(1)), H(n_heads), Hkv(n_kv_heads),
        hd(qkv.size(2) / (n_heads + 2 * n_kv_heads)), C(qkv.size(2)) {}
  int64_t q_col(int64_t h) const { return h * hd; }
  int64_t k_col(int64_t g) const { return (H + g) * hd; }
  int64_t v_col(int64_t g) const { return (H + Hkv + g) * hd; }
};

class CausalSelfAttentionFn : public torch::autograd::Function<CausalSelfAttentionFn> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& qkv_in, const torch::Tensor& cos_in,
                               const torch::Tensor& sin_in, int64_t n_heads, int64_t n_kv_heads) {
    torch::Tensor qkv = qkv_in.contiguous(), cos = cos_in.contiguous(), sin = sin_in.contiguous();
    const Shape s(qkv, n_heads, n_kv_heads);
    const int64_t rep = s.H / s.Hkv, ldy = s.H * s.hd, T = s.T, hd = s.hd;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    torch::Tensor y = torch::empty({s.B, T, ldy}, qkv.options());
    torch::Tensor lse = torch::empty({s.B, s.H, T}, qkv.options());
    const float *xp = qkv.data_ptr<float>(), *cp = cos.data_ptr<float>(), *sp = sin.data_ptr<float>();
    float *yp = y.data_ptr<float>(), *lp = lse.data_ptr<float>();
    // One task per (batch, kv head): its query heads share the rotated keys.
    at::parallel_for(0, s.B * s.Hkv, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> kr(T * hd), qr(T * hd), scores(kBlock * T);
      for (int64_t bg = begin; bg < end; ++bg) {
        const int64_t b = bg / s.Hkv, g = bg % s.Hkv;
        const float* base = xp + b * T * s.C;
        const float* v = base + s.v_col(g);
        RopeRows(base + s.k_col(g), s.C, cp, sp, T, hd, 1.0f, kr.data());
        for (int64_t h = g * rep; h < (g + 1) * rep; ++h) {
          // Scaled queries: S = (q / sqrt(hd)) k^T.
          RopeRows(base + s.q_col(h), s.C, cp, sp, T, hd, scale, qr.data());
          float* yh = yp + b * T * ldy + h * hd;
          float* lh = lp + (b * s.H + h) * T;
          for (int64_t i0 = 0; i0 < T; i0 += kBlock) {
            const int64_t m = std::min(kBlock, T - i0), n = i0 + m;
            Gemm(false, true, m, n, hd, 1.0f, qr.data() + i0 * hd, hd, kr.data(), hd, 0.0f, scores.data(), n);
            CausalSoftmaxBlock(scores.data(), m, n, i0, lh + i0);
            Gemm(false, false, m, hd, n, 1.0f, scores.data(), n, v, s.C, 0.0f, yh + i0 * ldy, ldy);
          }
        }
      }
    });
    ctx->save_for_backward({qkv, cos, sin, y, lse});
    ctx->saved_data["n_heads"] = n_heads;
    ctx->saved_data["n_kv_heads"] = n_kv_heads;
    return y;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor &qkv = saved[0], &cos = saved[1], &sin = saved[2], &y = saved[3], &lse = saved[4];
    torch::Tensor dy = grads[0].contiguous();
    const Shape s(qkv, ctx->saved_data["n_heads"].toInt(), ctx->saved_data["n_kv_heads"].toInt());
    const int64_t rep = s.H / s.Hkv, ldy = s.H * s.hd, T = s.T, hd = s.hd;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    torch::Tensor dqkv = torch::empty_like(qkv);
    const float *xp = qkv.data_ptr<float>(), *cp = cos.data_ptr<float>(), *sp = sin.data_ptr<float>();
    const float *yp = y.data_ptr<float>(), *lp = lse.data_ptr<float>(), *gp = dy.data_ptr<float>();
    float* dp = dqkv.data_ptr<float>();
    // Each task owns its kv head's gradient rows (and its query heads'), and
    // accumulates over blocks and query heads in a fixed order.
    at::parallel_for(0, s.B * s.Hkv, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> kr(T * hd), qr(T * hd), dkr(T * hd), dv(T * hd), dqr(T * hd);
      std::vector<float> p(kBlock * T), dpb(kBlock * T);
      for (int64_t bg = begin; bg < end; ++bg) {
        const int64_t b = bg / s.Hkv, g = bg % s.Hkv;
        const float* base = xp + b * T * s.C;
        float* dbase = dp + b * T * s.C;
        const float* v = base + s.v_col(g);
        RopeRows(base + s.k_col(g), s.C, cp, sp, T, hd, 1.0f, kr.data());
        std::fill(dkr.begin(), dkr.end(), 0.0f);
        std::fill(dv.begin(), dv.end(), 0.0f);
        for (int64_t h = g * rep; h < (g + 1) * rep; ++h) {
          RopeRows(base + s.q_col(h), s.C, cp, sp, T, hd, scale, qr.data());
          const float* yh = yp + b * T * ldy + h * hd;
          const float* gh = gp + b * T * ldy + h * hd;
          const float* lh = lp + (b * s.H + h) * T;
          for (int64_t i0 = 0; i0 < T; i0 += kBlock) {
            const int64_t m = std::min(kBlock, T - i0), n = i0 + m;
            const float* qb = qr.data() + i0 * hd;
            const float* gb = gh + i0 * ldy;
            Gemm(false, true, m, n, hd, 1.0f, qb, hd, kr.data(), hd, 0.0f, p.data(), n);
            CausalProbsBlock(p.data(), m, n, i0, lh + i0);
            Gemm(true, false, n, hd, m, 1.0f, p.data(), n, gb, ldy, 1.0f, dv.data(), hd);        // dV += P^T dY
            Gemm(false, true, m, n, hd, 1.0f, gb, ldy, v, s.C, 0.0f, dpb.data(), n);              // dP = dY V^T
            SoftmaxBackwardBlock(p.data(), dpb.data(), m, n, gb, yh + i0 * ldy, ldy, hd);        // dS
            Gemm(false, false, m, hd, n, 1.0f, p.data(), n, kr.data(), hd, 0.0f, dqr.data() + i0 * hd, hd);  // dQ = dS K
            Gemm(true, false, n, hd, m, 1.0f, p.data(), n, qb, hd, 1.0f, dkr.data(), hd);        // dK += dS^T Q
          }
          RopeBackwardRows(dqr.data(), cp, sp, T, hd, scale, dbase + s.q_col(h), s.C);
        }
        RopeBackwardRows(dkr.data(), cp, sp, T, hd, 1.0f, dbase + s.k_col(g), s.C);
        for (int64_t t = 0; t < T; ++t) std::copy_n(dv.data() + t * hd, hd, dbase + s.v_col(g) + t * s.C);
      }
    });
    return {dqkv, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor ApplyRope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  torch::Tensor x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  return x * cos + torch::cat({-x2, x1}, -1) * sin;
}

torch::Tensor CausalSelfAttentionReference(const torch::Tensor& qkv, const torch::Tensor& cos, const torch::Tensor& sin,
                                           int64_t n_heads, int64_t n_kv_heads) {
  const Shape s(qkv, n_heads, n_kv_heads);
  // [B, T, heads * hd] columns -> [B, heads, T, hd]
  auto heads = [&](int64_t col, int64_t h) {
    return qkv.narrow(2, col, h * s.hd).view({s.B, s.T, h, s.hd}).transpose(1, 2);
  };
  torch::Tensor q = ApplyRope(heads(s.q_col(0), s.H), cos, sin);
  torch::Tensor k = ApplyRope(heads(s.k_col(0), s.Hkv), cos, sin);
  torch::Tensor v = heads(s.v_col(0), s.Hkv);
  if (s.Hkv != s.H) {  // grouped-query attention: share each k/v head
    k = k.repeat_interleave(s.H / s.Hkv, 1);
    v = v.repeat_interleave(s.H / s.Hkv, 1);
  }
#if TORCH_VERSION_MAJOR >= 2
  torch::Tensor y = at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true);
#else
  torch::Tensor y = std::get<0>(at::_scaled_dot_product_attention(q, k, v, {}, 0.0, false, /*is_causal=*/true));
#endif
  return y.transpose(1, 2).reshape({s.B, s.T, s.H * s.hd});
}

torch::Tensor CausalSelfAttention(const torch::Tensor& qkv, const torch::Tensor& cos, const torch::Tensor& sin,
                                  int64_t n_heads, int64_t n_kv_heads) {
  if (UseFusedCpu(qkv) && UseFusedCpu(cos) && UseFusedCpu(sin)) return CausalSelfAttentionFn::apply(qkv, cos, sin, n_heads, n_kv_heads);
  return CausalSelfAttentionReference(qkv, cos, sin, n_heads, n_kv_heads);
}

}  // namespace sdft
