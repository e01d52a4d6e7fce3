#include "training/linear_cross_entropy.h"

namespace sdft {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

constexpr int64_t kChunkRows = 128;

class LinearCrossEntropyFn : public torch::autograd::Function<LinearCrossEntropyFn> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor hidden, torch::Tensor weight, torch::Tensor targets) {
    hidden = hidden.contiguous();
    const int64_t N = hidden.size(0);
    torch::Tensor lse = torch::empty({N}, hidden.options());
    double total = 0;
    for (int64_t r = 0; r < N; r += kChunkRows) {
      const int64_t n = std::min(kChunkRows, N - r);
      torch::Tensor logits = torch::mm(hidden.narrow(0, r, n), weight.t());
      torch::Tensor l = torch::logsumexp(logits, 1);
      lse.narrow(0, r, n).copy_(l);
      total += (l - logits.gather(1, targets.narrow(0, r, n).unsqueeze(1)).squeeze(1)).sum().item<double>();
    }
    ctx->save_for_backward({hidden, weight, targets, lse});
    return torch::tensor(total / N, hidden.options());
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto s = ctx->get_saved_variables();
    torch::Tensor hidden = s[0], weight = s[1], targets = s[2], lse = s[3];
    const int64_t N = hidden.size(0);
    const double g = grads[0].item<double>() / N;
    torch::Tensor dh = torch::empty_like(hidden), dw = torch::zeros_like(weight);
    for (int64_t r = 0; r < N; r += kChunkRows) {
      const int64_t n = std::min(kChunkRows, N - r);
      torch::Tensor h = hidden.narrow(0, r, n);
      // d loss / d logits = (softmax - onehot) * g
      torch::Tensor p = torch::mm(h, weight.t()).sub_(lse.narrow(0, r, n).unsqueeze(1)).exp_();
      p.scatter_add_(1, targets.narrow(0, r, n).unsqueeze(1), torch::full({n, 1}, -1.0f, p.options()));
      p.mul_(g);
      torch::Tensor dh_rows = dh.narrow(0, r, n);
      torch::mm_out(dh_rows, p, weight);
      dw.addmm_(p.t(), h);
    }
    return {dh, dw, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor LinearCrossEntropy(const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& targets) {
  return LinearCrossEntropyFn::apply(hidden, weight, targets);
}

}  // namespace sdft
