#include "training/fused_ops.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <malloc.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "training/fused_kernels.h"

namespace sdft {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

bool FusedKernelsEnabled() {
  static const bool enabled = std::getenv("SDFT_UNFUSED") == nullptr;
  return enabled;
}

bool UseFusedCpu(const torch::Tensor& t) {
  return FusedKernelsEnabled() && t.is_cpu() && t.scalar_type() == torch::kFloat32;
}

namespace {

// ---------------------------------------------------------------------------
// The row kernels. Plain loops over contiguous rows that the compiler
// vectorises; SDFT_VECTORIZE builds each for AVX-512, AVX2 and baseline x86-64
// and picks one when the program loads (the library itself is built for
// baseline x86-64).

SDFT_VECTORIZE void RmsNormForwardRows(const float* x, const float* w, float* y, float* rstd, int64_t d, float eps,
                                       int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float* xi = x + i * d;
    float* yi = y + i * d;
    const float r = 1.0f / std::sqrt(kernels::Dot(xi, xi, d) / static_cast<float>(d) + eps);
    rstd[i] = r;
    for (int64_t j = 0; j < d; ++j) yi[j] = xi[j] * r * w[j];
  }
}

// y = x * r * w with r = (mean(x^2) + eps)^-1/2, so
// dx = r * (dy * w) - x * r^3 / d * sum(dy * w * x).
SDFT_VECTORIZE void RmsNormBackwardRows(const float* x, const float* w, const float* rstd, const float* dy, float* dx,
                                        int64_t d, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float *xi = x + i * d, *gi = dy + i * d;
    float* dxi = dx + i * d;
    const float r = rstd[i];
    const float s = kernels::Dot3(gi, w, xi, d);
    const float c = r * r * r * s / static_cast<float>(d);
    for (int64_t j = 0; j < d; ++j) dxi[j] = r * gi[j] * w[j] - c * xi[j];
  }
}

// dw[j] = sum over rows of dy * x * r: each thread owns a range of columns and
// sums every row in order, so the result does not depend on the thread count.
SDFT_VECTORIZE void RmsNormWeightGradCols(const float* x, const float* rstd, const float* dy, float* dw, int64_t n,
                                          int64_t d, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; ++j) dw[j] = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float r = rstd[i];
    const float *xi = x + i * d, *gi = dy + i * d;
    for (int64_t j = j0; j < j1; ++j) dw[j] += gi[j] * xi[j] * r;
  }
}

SDFT_VECTORIZE void SwiGluForwardRows(const float* gu, float* out, int64_t f, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float *g = gu + i * 2 * f, *u = g + f;
    float* o = out + i * f;
    for (int64_t j = 0; j < f; ++j) o[j] = g[j] / (1.0f + kernels::Exp(-g[j])) * u[j];
  }
}

// out = g * s(g) * u with s the sigmoid: d/dg = u * s * (1 + g * (1 - s)),
// d/du = g * s.
SDFT_VECTORIZE void SwiGluBackwardRows(const float* gu, const float* dout, float* dgu, int64_t f, int64_t begin,
                                       int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const float *g = gu + i * 2 * f, *u = g + f, *d = dout + i * f;
    float *dg = dgu + i * 2 * f, *du = dg + f;
    for (int64_t j = 0; j < f; ++j) {
      const float s = 1.0f / (1.0f + kernels::Exp(-g[j]));
      dg[j] = d[j] * u[j] * s * (1.0f + g[j] * (1.0f - s));
      du[j] = d[j] * g[j] * s;
    }
  }
}

// Each row of logits becomes its softmax, in place; loss[i] = lse - logit[target].
SDFT_VECTORIZE void SoftmaxCrossEntropyRows(float* logits, const int64_t* targets, float* loss, int64_t v,
                                            int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    float* l = logits + i * v;
    const int64_t t = targets[i];
    const float m = kernels::Max(l, v);
    const float target_logit = l[t];
    for (int64_t j = 0; j < v; ++j) l[j] = kernels::Exp(l[j] - m);
    const float sum = kernels::Sum(l, v);
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < v; ++j) l[j] *= inv;
    loss[i] = m + std::log(sum) - target_logit;
  }
}

// The logits' gradient, in place over the probabilities: (p - onehot) * scale,
// times the target's weight when there are token weights.
SDFT_VECTORIZE void CrossEntropyBackwardRows(float* probs, const int64_t* targets, const float* token_weights,
                                             float scale, int64_t v, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    float* p = probs + i * v;
    p[targets[i]] -= 1.0f;
    const float s = token_weights ? scale * token_weights[targets[i]] : scale;
    for (int64_t j = 0; j < v; ++j) p[j] *= s;
  }
}

SDFT_VECTORIZE void AdamWRange(float* p, const float* g, float* m, float* v, float keep, float b1, float b2, float eps,
                               float step, float bc2, int64_t begin, int64_t end) {
  const float c1 = 1.0f - b1, c2 = 1.0f - b2;
  for (int64_t i = begin; i < end; ++i) {
    const float mi = m[i] * b1 + c1 * g[i];
    const float vi = v[i] * b2 + c2 * g[i] * g[i];
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * keep + step * mi / (std::sqrt(vi / bc2) + eps);
  }
}

// Rows per parallel chunk: enough work per chunk to amortise the hand-off.
int64_t Grain(int64_t row_len) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(row_len, 1)); }

// ---------------------------------------------------------------------------
// Autograd functions.

class RmsNormFn : public torch::autograd::Function<RmsNormFn> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x_in, const torch::Tensor& w_in, double eps) {
    torch::Tensor x = x_in.contiguous(), w = w_in.contiguous();
    const int64_t d = x.size(-1), n = x.numel() / d;
    torch::Tensor y = torch::empty_like(x), rstd = torch::empty({n}, x.options());
    const float *xp = x.data_ptr<float>(), *wp = w.data_ptr<float>();
    float *yp = y.data_ptr<float>(), *rp = rstd.data_ptr<float>();
    at::parallel_for(0, n, Grain(d), [&](int64_t b, int64_t e) {
      RmsNormForwardRows(xp, wp, yp, rp, d, static_cast<float>(eps), b, e);
    });
    ctx->save_for_backward({x, w, rstd});
    return y;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &w = saved[1], &rstd = saved[2];
    torch::Tensor dy = grads[0].contiguous();
    const int64_t d = x.size(-1), n = x.numel() / d;
    torch::Tensor dx = torch::empty_like(x), dw = torch::empty_like(w);
    const float *xp = x.data_ptr<float>(), *wp = w.data_ptr<float>(), *rp = rstd.data_ptr<float>(),
                *gp = dy.data_ptr<float>();
    float *dxp = dx.data_ptr<float>(), *dwp = dw.data_ptr<float>();
    at::parallel_for(0, n, Grain(d), [&](int64_t b, int64_t e) { RmsNormBackwardRows(xp, wp, rp, gp, dxp, d, b, e); });
    at::parallel_for(0, d, 16, [&](int64_t b, int64_t e) { RmsNormWeightGradCols(xp, rp, gp, dwp, n, d, b, e); });
    return {dx, dw, torch::Tensor()};
  }
};

class SwiGluFn : public torch::autograd::Function<SwiGluFn> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& gu_in) {
    torch::Tensor gu = gu_in.contiguous();
    const int64_t f = gu.size(-1) / 2, n = gu.numel() / (2 * f);
    std::vector<int64_t> shape = gu.sizes().vec();
    shape.back() = f;
    torch::Tensor out = torch::empty(shape, gu.options());
    const float* gp = gu.data_ptr<float>();
    float* op = out.data_ptr<float>();
    at::parallel_for(0, n, Grain(2 * f), [&](int64_t b, int64_t e) { SwiGluForwardRows(gp, op, f, b, e); });
    ctx->save_for_backward({gu});
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    torch::Tensor gu = ctx->get_saved_variables()[0];
    torch::Tensor dout = grads[0].contiguous();
    const int64_t f = gu.size(-1) / 2, n = gu.numel() / (2 * f);
    torch::Tensor dgu = torch::empty_like(gu);
    const float *gp = gu.data_ptr<float>(), *dp = dout.data_ptr<float>();
    float* dgp = dgu.data_ptr<float>();
    at::parallel_for(0, n, Grain(2 * f), [&](int64_t b, int64_t e) { SwiGluBackwardRows(gp, dp, dgp, f, b, e); });
    return {dgu};
  }
};

// C[m, n] = op(A) op(B) with the rows of C split across threads in blocks of
// kRows, each block one BLAS call on one thread. The blocks and their calls
// are the same whatever the number of threads (a thread takes whole blocks),
// so the bits do not depend on it: BLAS's result for a row can depend on the
// call's shape, not only on the row's place in a tile (OpenBLAS 0.3.21 on an
// AVX-512 EPYC gave different bits for one call over 520 rows than for two
// over 288 and 232, where the Zen sgemm it was first run on did not). And
// there is one thread pool (LibTorch's) instead of two (LibTorch's and
// OpenBLAS's), which on a 2-core machine spun against each other
// (SetComputeThreads gives OpenBLAS one thread).
void RowSplitGemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                  const float* b, int64_t ldb, float* c, int64_t ldc) {
  // 96 is a multiple of the tile heights OpenBLAS uses (4, 8, 16, 24, 32,
  // 48). At least ~1 MFLOP per parallel task: below that, waking a thread
  // costs more.
  constexpr int64_t kRows = 96;
  const int64_t blocks = (m + kRows - 1) / kRows;
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 19) / std::max<int64_t>(kRows * n * k, 1));
  at::parallel_for(0, blocks, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      const int64_t r0 = blk * kRows, r1 = std::min(m, r0 + kRows);
      const float* a_rows = trans_a ? a + r0 : a + r0 * lda;  // op(A)'s rows r0.. are A's columns when transposed
      Gemm(trans_a, trans_b, r1 - r0, n, k, 1.0f, a_rows, lda, b, ldb, 0.0f, c + r0 * ldc, ldc);
    }
  });
}

// x [M, K] @ w[N, K]^T, 2-D contiguous float tensors.
torch::Tensor MatMulNT(const torch::Tensor& x, const torch::Tensor& w) {
  const int64_t m = x.size(0), k = x.size(1), n = w.size(0);
  torch::Tensor y = torch::empty({m, n}, x.options());
  RowSplitGemm(false, true, m, n, k, x.data_ptr<float>(), k, w.data_ptr<float>(), k, y.data_ptr<float>(), n);
  return y;
}

// The gradients of y = x w^T from dy [M, N]: dx = dy w, dw = dy^T x.
std::pair<torch::Tensor, torch::Tensor> MatMulNTBackward(const torch::Tensor& dy, const torch::Tensor& x,
                                                         const torch::Tensor& w) {
  const int64_t m = x.size(0), k = x.size(1), n = w.size(0);
  torch::Tensor dx = torch::empty_like(x), dw = torch::empty_like(w);
  RowSplitGemm(false, false, m, k, n, dy.data_ptr<float>(), n, w.data_ptr<float>(), k, dx.data_ptr<float>(), k);
  RowSplitGemm(true, false, n, k, m, dy.data_ptr<float>(), n, x.data_ptr<float>(), k, dw.data_ptr<float>(), k);
  return {dx, dw};
}

class LinearFn : public torch::autograd::Function<LinearFn> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x_in, const torch::Tensor& w_in) {
    torch::Tensor x = x_in.contiguous(), w = w_in.contiguous();
    const int64_t k = x.size(-1);
    TORCH_CHECK(w.dim() == 2 && w.size(1) == k, "Linear: weight must be [out, ", k, "]");
    std::vector<int64_t> out_shape = x.sizes().vec();
    out_shape.back() = w.size(0);
    torch::Tensor x2 = x.reshape({-1, k});
    ctx->save_for_backward({x2, w});
    return MatMulNT(x2, w).view(out_shape);
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor &x2 = saved[0], &w = saved[1];
    torch::Tensor dy = grads[0].contiguous();
    std::vector<int64_t> in_shape = dy.sizes().vec();
    in_shape.back() = x2.size(1);
    auto [dx, dw] = MatMulNTBackward(dy.reshape({-1, w.size(0)}), x2, w);
    return {dx.view(in_shape), dw};
  }
};

class LinearCrossEntropyFn : public torch::autograd::Function<LinearCrossEntropyFn> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& hidden_in, const torch::Tensor& weight_in,
                               const torch::Tensor& targets_in, const torch::Tensor& token_weights_in) {
    torch::Tensor hidden = hidden_in.contiguous(), weight = weight_in.contiguous(), targets = targets_in.contiguous();
    torch::Tensor tw = token_weights_in.to(torch::kFloat32).contiguous();  // empty: no weights
    const int64_t n = hidden.size(0), v = weight.size(0);
    TORCH_CHECK(targets.scalar_type() == torch::kInt64 && targets.numel() == n, "LinearCrossEntropy: bad targets");
    TORCH_CHECK(targets.min().item<int64_t>() >= 0 && targets.max().item<int64_t>() < v,
                "LinearCrossEntropy: target out of range");
    // One large product (BLAS is at its best there), then one pass per row.
    torch::Tensor probs = MatMulNT(hidden, weight);
    torch::Tensor row_loss = torch::empty({n}, hidden.options());
    float *pp = probs.data_ptr<float>(), *lp = row_loss.data_ptr<float>();
    const int64_t* tp = targets.data_ptr<int64_t>();
    at::parallel_for(0, n, Grain(v), [&](int64_t b, int64_t e) { SoftmaxCrossEntropyRows(pp, tp, lp, v, b, e); });
    // The mean, summed in row order (in double) on one thread: thread-count independent.
    TORCH_CHECK(tw.numel() == 0 || tw.numel() == v, "LinearCrossEntropy: token_weights must have one weight per token");
    const float* wp = tw.numel() ? tw.data_ptr<float>() : nullptr;
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += wp ? static_cast<double>(lp[i]) * wp[tp[i]] : lp[i];
    ctx->save_for_backward({hidden, weight, probs, targets, tw});
    return torch::full({}, static_cast<float>(sum / static_cast<double>(n)), hidden.options());
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    // The probabilities are overwritten by the gradient: a second backward
    // through the same graph would read garbage, so refuse it.
    TORCH_CHECK(!ctx->saved_data.count("used"), "LinearCrossEntropy: backward may run only once");
    ctx->saved_data["used"] = true;
    auto saved = ctx->get_saved_variables();
    const torch::Tensor &hidden = saved[0], &weight = saved[1], &probs = saved[2], &targets = saved[3], &tw = saved[4];
    const int64_t n = hidden.size(0), v = weight.size(0);
    const float scale = grads[0].item<float>() / static_cast<float>(n);
    float* pp = probs.data_ptr<float>();
    const int64_t* tp = targets.data_ptr<int64_t>();
    const float* wp = tw.numel() ? tw.data_ptr<float>() : nullptr;
    at::parallel_for(0, n, Grain(v), [&](int64_t b, int64_t e) { CrossEntropyBackwardRows(pp, tp, wp, scale, v, b, e); });
    auto [dhidden, dweight] = MatMulNTBackward(probs, hidden, weight);
    return {dhidden, dweight, torch::Tensor(), torch::Tensor()};
  }
};

using SgemmFn = void (*)(const char*, const char*, const int*, const int*, const int*, const float*, const float*,
                         const int*, const float*, const int*, const float*, float*, const int*);

// The BLAS that LibTorch itself calls (OpenBLAS on Debian), found at run time
// so that nothing extra is linked; null when the process has none (e.g. MKL
// linked statically into a pip LibTorch), and Gemm goes through ATen.
SgemmFn FindSgemm() {
  static const SgemmFn fn = std::getenv("SDFT_NO_DIRECT_BLAS") ? nullptr
                                                              : reinterpret_cast<SgemmFn>(dlsym(RTLD_DEFAULT, "sgemm_"));
  return fn;
}

}  // namespace

void SetComputeThreads(int n) {
  if (n <= 0) return;
  torch::set_num_threads(n);
  // The fused path splits its products across LibTorch's threads itself, so
  // OpenBLAS gets one thread; the plain ATen path (SDFT_UNFUSED) leaves the
  // products to OpenBLAS, so it keeps OpenBLAS's default there.
  if (n != 1 && !FusedKernelsEnabled()) return;
  using SetThreadsFn = void (*)(int);
  if (auto set = reinterpret_cast<SetThreadsFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(1);
}

torch::Tensor Linear(const torch::Tensor& x, const torch::Tensor& weight) {
  if (UseFusedCpu(x) && UseFusedCpu(weight)) return LinearFn::apply(x, weight);
  return torch::matmul(x, weight.t());
}

torch::Tensor RmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  if (UseFusedCpu(x) && UseFusedCpu(weight)) return RmsNormFn::apply(x, weight, eps);
  return x * torch::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps) * weight;
}

torch::Tensor SwiGlu(const torch::Tensor& gate_up) {
  if (UseFusedCpu(gate_up)) return SwiGluFn::apply(gate_up);
  const int64_t f = gate_up.size(-1) / 2;
  return torch::silu(gate_up.narrow(-1, 0, f)) * gate_up.narrow(-1, f, f);
}

torch::Tensor LinearCrossEntropy(const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& targets,
                                 const torch::Tensor& token_weights) {
  if (UseFusedCpu(hidden) && UseFusedCpu(weight)) {
    // Autograd cannot take an undefined input: an empty tensor means "no weights".
    return LinearCrossEntropyFn::apply(hidden, weight, targets,
                                       token_weights.defined() ? token_weights : torch::empty({0}, hidden.options()));
  }
  namespace F = torch::nn::functional;
  torch::Tensor logits = torch::matmul(hidden, weight.t());
  if (!token_weights.defined()) return F::cross_entropy(logits, targets);
  torch::Tensor rows = F::cross_entropy(logits, targets, F::CrossEntropyFuncOptions().reduction(torch::kNone));
  return (rows * token_weights.to(rows.scalar_type()).index_select(0, targets)).mean();
}

void AdamWUpdate(torch::Tensor& p, const torch::Tensor& g, torch::Tensor& m, torch::Tensor& v, double lr, double beta1,
                 double beta2, double eps, double decay, double bc1, double bc2) {
  if (UseFusedCpu(p) && UseFusedCpu(g) && UseFusedCpu(m) && UseFusedCpu(v) && p.is_contiguous() && g.is_contiguous() &&
      m.is_contiguous() && v.is_contiguous()) {
    float *pp = p.data_ptr<float>(), *mp = m.data_ptr<float>(), *vp = v.data_ptr<float>();
    const float* gp = g.data_ptr<float>();
    const float keep = static_cast<float>(1.0 - decay), step = static_cast<float>(-lr / bc1);
    at::parallel_for(0, p.numel(), 16384, [&](int64_t b, int64_t e) {
      AdamWRange(pp, gp, mp, vp, keep, static_cast<float>(beta1), static_cast<float>(beta2), static_cast<float>(eps), step,
                 static_cast<float>(bc2), b, e);
    });
    return;
  }
  if (decay != 0) p.mul_(1.0 - decay);
  m.mul_(beta1).add_(g, 1.0 - beta1);
  v.mul_(beta2).addcmul_(g, g, 1.0 - beta2);
  torch::Tensor denom = (v / bc2).sqrt_().add_(eps);
  p.addcdiv_(m, denom, -lr / bc1);
}

void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (SgemmFn sgemm = FindSgemm()) {
    // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: the
    // same buffers with the operands swapped.
    const char ta = trans_a ? 'T' : 'N', tb = trans_b ? 'T' : 'N';
    const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
    const int la = static_cast<int>(lda), lb = static_cast<int>(ldb), lc = static_cast<int>(ldc);
    sgemm(&tb, &ta, &ni, &mi, &ki, &alpha, b, &lb, a, &la, &beta, c, &lc);
    return;
  }
  auto view = [](const float* p, int64_t rows, int64_t cols, int64_t ld, bool t) {
    at::Tensor v = at::from_blob(const_cast<float*>(p), {t ? cols : rows, t ? rows : cols}, {ld, 1}, at::kFloat);
    return t ? v.t() : v;
  };
  at::Tensor cv = at::from_blob(c, {m, n}, {ldc, 1}, at::kFloat);
  if (k == 0 || alpha == 0) {
    if (beta == 0) cv.zero_(); else cv.mul_(beta);
    return;
  }
  cv.addmm_(view(a, m, k, lda, trans_a), view(b, k, n, ldb, trans_b), beta, alpha);
}

void TuneAllocatorForTraining() {
  // glibc serves blocks above M_MMAP_THRESHOLD with mmap and returns them on
  // free, so every step would fault its large activations in again page by page.
  // (M_MMAP_THRESHOLD cannot go above 32 MB; the logits are larger.)
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

}  // namespace sdft
