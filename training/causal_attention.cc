#include "training/causal_attention.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <limits>
#include <vector>

namespace sdft {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// Matrix products on raw row-major buffers through ATen (BLAS underneath).
inline at::Tensor View(float* p, int64_t rows, int64_t cols) {
  return at::from_blob(p, {rows, cols}, at::TensorOptions().dtype(at::kFloat));
}

class CausalAttentionFn : public torch::autograd::Function<CausalAttentionFn> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor q, torch::Tensor k, torch::Tensor v) {
    q = q.contiguous();
    k = k.contiguous();
    v = v.contiguous();
    const int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3);
    const float scale = 1.0f / std::sqrt(static_cast<float>(D));
    torch::Tensor out = torch::empty_like(q);
    torch::Tensor lse = torch::empty({B, H, T}, q.options());
    float *qp = q.data_ptr<float>(), *kp = k.data_ptr<float>(), *vp = v.data_ptr<float>();
    float *op = out.data_ptr<float>(), *lp = lse.data_ptr<float>();
    at::parallel_for(0, B * H, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> s(T * T);
      for (int64_t bh = begin; bh < end; ++bh) {
        const int64_t off = bh * T * D;
        at::Tensor S = View(s.data(), T, T);
        at::mm_out(S, View(qp + off, T, D), View(kp + off, T, D).t());
        for (int64_t i = 0; i < T; ++i) {
          float* row = s.data() + i * T;
          float m = -std::numeric_limits<float>::infinity();
          for (int64_t j = 0; j <= i; ++j) m = std::max(m, row[j] *= scale);
          float sum = 0;
          for (int64_t j = 0; j <= i; ++j) sum += (row[j] = std::exp(row[j] - m));
          const float inv = 1.0f / sum;
          for (int64_t j = 0; j <= i; ++j) row[j] *= inv;
          for (int64_t j = i + 1; j < T; ++j) row[j] = 0;
          lp[bh * T + i] = m + std::log(sum);
        }
        at::Tensor O = View(op + off, T, D);
        at::mm_out(O, S, View(vp + off, T, D));
      }
    });
    ctx->save_for_backward({q, k, v, out, lse});
    return out;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    torch::Tensor q = saved[0], k = saved[1], v = saved[2], out = saved[3], lse = saved[4];
    torch::Tensor dout = grads[0].contiguous();
    const int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3);
    const float scale = 1.0f / std::sqrt(static_cast<float>(D));
    torch::Tensor dq = torch::empty_like(q), dk = torch::empty_like(k), dv = torch::empty_like(v);
    float *qp = q.data_ptr<float>(), *kp = k.data_ptr<float>(), *vp = v.data_ptr<float>(), *op = out.data_ptr<float>();
    float *lp = lse.data_ptr<float>(), *gp = dout.data_ptr<float>();
    float *dqp = dq.data_ptr<float>(), *dkp = dk.data_ptr<float>(), *dvp = dv.data_ptr<float>();
    at::parallel_for(0, B * H, 1, [&](int64_t begin, int64_t end) {
      std::vector<float> p(T * T), dp(T * T), rowdot(T);
      for (int64_t bh = begin; bh < end; ++bh) {
        const int64_t off = bh * T * D;
        at::Tensor P = View(p.data(), T, T), dP = View(dp.data(), T, T);
        at::Tensor Q = View(qp + off, T, D), K = View(kp + off, T, D), V = View(vp + off, T, D);
        at::Tensor dO = View(gp + off, T, D);
        // P = softmax(QK^T * scale) from the saved log-sum-exp.
        at::mm_out(P, Q, K.t());
        for (int64_t i = 0; i < T; ++i) {
          float* row = p.data() + i * T;
          const float l = lp[bh * T + i];
          for (int64_t j = 0; j <= i; ++j) row[j] = std::exp(row[j] * scale - l);
          for (int64_t j = i + 1; j < T; ++j) row[j] = 0;
          float d = 0;
          const float *go = gp + off + i * D, *o = op + off + i * D;
          for (int64_t c = 0; c < D; ++c) d += go[c] * o[c];
          rowdot[i] = d;
        }
        at::Tensor dV = View(dvp + off, T, D);
        at::mm_out(dV, P.t(), dO);
        at::mm_out(dP, dO, V.t());
        // dS = P * (dP - rowdot), scaled into the score gradient.
        for (int64_t i = 0; i < T; ++i) {
          float *prow = p.data() + i * T, *drow = dp.data() + i * T;
          for (int64_t j = 0; j <= i; ++j) prow[j] = prow[j] * (drow[j] - rowdot[i]) * scale;
        }
        at::Tensor dQ = View(dqp + off, T, D), dK = View(dkp + off, T, D);
        at::mm_out(dQ, P, K);
        at::mm_out(dK, P.t(), Q);
      }
    });
    return {dq, dk, dv};
  }
};

}  // namespace

torch::Tensor CausalAttentionCpu(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  return CausalAttentionFn::apply(q, k, v);
}

}  // namespace sdft
