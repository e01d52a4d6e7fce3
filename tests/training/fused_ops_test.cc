// The fused CPU kernels (fused_ops.h, causal_attention.h) against the plain
// ATen compositions they replace: forward values and gradients, tight
// tolerances, and the same bits whatever the thread count.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "training/causal_attention.h"
#include "training/fused_ops.h"
#include "training/model.h"

namespace sdft {
namespace {

using torch::autograd::grad;

// Fresh leaves with the same values (one set for each side).
std::vector<torch::Tensor> Leaves(const std::vector<torch::Tensor>& ts) {
  std::vector<torch::Tensor> out;
  for (const auto& t : ts) out.push_back(t.detach().clone().requires_grad_());
  return out;
}

void ExpectClose(const torch::Tensor& a, const torch::Tensor& b, double rtol, double atol, const std::string& what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  EXPECT_TRUE(torch::allclose(a, b, rtol, atol)) << what << ": max |diff| " << (a - b).abs().max().item<double>();
}

// rope tables as the model builds them: [T, hd], cat(freqs, freqs)
std::pair<torch::Tensor, torch::Tensor> Rope(int64_t T, int64_t hd) {
  torch::Tensor inv = 1.0 / torch::pow(10000.0, torch::arange(0, hd, 2, torch::kFloat64) / static_cast<double>(hd));
  torch::Tensor f = torch::outer(torch::arange(T, torch::kFloat64), inv);
  torch::Tensor e = torch::cat({f, f}, -1);
  return {e.cos().to(torch::kFloat32), e.sin().to(torch::kFloat32)};
}

TEST(FusedOpsTest, RmsNormMatchesComposition) {
  torch::manual_seed(1);
  for (int64_t d : {7, 32, 100}) {
    torch::Tensor x0 = torch::randn({3, 5, d}) * 2, w0 = torch::randn({d}), g = torch::randn({3, 5, d});
    auto a = Leaves({x0, w0}), b = Leaves({x0, w0});
    torch::Tensor ya = RmsNorm(a[0], a[1], 1e-5);
    torch::Tensor yb = b[0] * torch::rsqrt(b[0].pow(2).mean(-1, true) + 1e-5) * b[1];
    ExpectClose(ya, yb, 1e-5, 1e-6, "forward");
    auto ga = grad({ya}, {a[0], a[1]}, {g}), gb = grad({yb}, {b[0], b[1]}, {g});
    ExpectClose(ga[0], gb[0], 1e-4, 1e-5, "dx");
    ExpectClose(ga[1], gb[1], 1e-4, 1e-5, "dw");
  }
}

// Linear's products are split by rows across threads (large enough here to
// split: over 500 rows of 96 x 200): the values and gradients of x w^T, and
// the same bits on 1 and 2 threads.
TEST(FusedOpsTest, LinearMatchesMatmulAndDoesNotDependOnTheThreadCount) {
  torch::manual_seed(11);
  torch::Tensor x0 = torch::randn({4, 130, 96}), w0 = torch::randn({200, 96}) * 0.1, g = torch::randn({4, 130, 200});
  auto run = [&](int threads) {
    SetComputeThreads(threads);
    auto a = Leaves({x0, w0});
    torch::Tensor y = Linear(a[0], a[1]);
    auto gr = grad({y}, {a[0], a[1]}, {g});
    return std::vector<torch::Tensor>{y.detach(), gr[0], gr[1]};
  };
  const int before = torch::get_num_threads();
  auto one = run(1), two = run(2);
  torch::set_num_threads(before);
  auto b = Leaves({x0, w0});
  torch::Tensor yb = torch::matmul(b[0], b[1].t());
  auto gb = grad({yb}, {b[0], b[1]}, {g});
  ExpectClose(one[0], yb, 1e-5, 1e-5, "forward");
  ExpectClose(one[1], gb[0], 1e-4, 1e-4, "dx");
  ExpectClose(one[2], gb[1], 1e-4, 1e-4, "dw");
  for (size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(torch::equal(one[i], two[i])) << i;
}

TEST(FusedOpsTest, SwiGluMatchesComposition) {
  torch::manual_seed(2);
  for (int64_t f : {5, 48}) {
    torch::Tensor gu0 = torch::randn({4, 6, 2 * f}) * 4, g = torch::randn({4, 6, f});
    auto a = Leaves({gu0}), b = Leaves({gu0});
    torch::Tensor ya = SwiGlu(a[0]);
    torch::Tensor yb = torch::silu(b[0].narrow(-1, 0, f)) * b[0].narrow(-1, f, f);
    ExpectClose(ya, yb, 1e-5, 1e-6, "forward");
    ExpectClose(grad({ya}, {a[0]}, {g})[0], grad({yb}, {b[0]}, {g})[0], 1e-5, 1e-6, "backward");
  }
}

TEST(FusedOpsTest, LinearCrossEntropyMatchesComposition) {
  torch::manual_seed(3);
  torch::Tensor h0 = torch::randn({37, 16}), w0 = torch::randn({101, 16}) * 0.5;
  torch::Tensor y = torch::randint(0, 101, {37}, torch::kInt64);
  auto a = Leaves({h0, w0}), b = Leaves({h0, w0});
  torch::Tensor la = LinearCrossEntropy(a[0], a[1], y);
  torch::Tensor lb = torch::nn::functional::cross_entropy(torch::matmul(b[0], b[1].t()), y);
  EXPECT_NEAR(la.item<double>(), lb.item<double>(), 1e-5);
  torch::Tensor g = torch::full({}, 0.7);
  auto ga = grad({la}, {a[0], a[1]}, {g}), gb = grad({lb}, {b[0], b[1]}, {g});
  ExpectClose(ga[0], gb[0], 1e-4, 1e-6, "dhidden");
  ExpectClose(ga[1], gb[1], 1e-4, 1e-6, "dweight");
}

// Token loss weights (train.loss_weights): each row's loss times its target's
// weight, still divided by the row count; weight 1 everywhere is the plain loss.
TEST(FusedOpsTest, WeightedLinearCrossEntropyMatchesComposition) {
  torch::manual_seed(6);
  torch::Tensor h0 = torch::randn({41, 16}), w0 = torch::randn({50, 16}) * 0.5;
  torch::Tensor y = torch::randint(0, 50, {41}, torch::kInt64);
  y[3] = 7;
  torch::Tensor tw = torch::ones({50});
  tw[7] = 20;
  tw[9] = 0;
  auto a = Leaves({h0, w0}), b = Leaves({h0, w0});
  torch::Tensor la = LinearCrossEntropy(a[0], a[1], y, tw);
  namespace F = torch::nn::functional;
  torch::Tensor rows = F::cross_entropy(torch::matmul(b[0], b[1].t()), y, F::CrossEntropyFuncOptions().reduction(torch::kNone));
  torch::Tensor lb = (rows * tw.index_select(0, y)).mean();
  EXPECT_NEAR(la.item<double>(), lb.item<double>(), 1e-4);
  EXPECT_GT(la.item<double>(), F::cross_entropy(torch::matmul(h0, w0.t()), y).item<double>());
  torch::Tensor g = torch::full({}, 0.7);
  auto ga = grad({la}, {a[0], a[1]}, {g}), gb = grad({lb}, {b[0], b[1]}, {g});
  ExpectClose(ga[0], gb[0], 1e-4, 1e-5, "dhidden");
  ExpectClose(ga[1], gb[1], 1e-4, 1e-5, "dweight");
  // The unfused path (double tensors) computes the same weighted loss.
  torch::Tensor ld = LinearCrossEntropy(h0.to(torch::kFloat64), w0.to(torch::kFloat64), y, tw);
  EXPECT_NEAR(ld.item<double>(), lb.item<double>(), 1e-4);
  EXPECT_NEAR(LinearCrossEntropy(h0, w0, y, torch::ones({50})).item<double>(),
              F::cross_entropy(torch::matmul(h0, w0.t()), y).item<double>(), 1e-5);
}

// The fused attention (rotary embeddings included) against the composition
// with the library's attention op: several lengths (block edges at 32),
// multi-head and grouped-query.
TEST(FusedOpsTest, CausalSelfAttentionMatchesComposition) {
  torch::manual_seed(4);
  struct Case { int64_t T, H, Hkv, hd; };
  for (Case c : {Case{1, 2, 2, 8}, Case{7, 2, 2, 16}, Case{32, 4, 4, 8}, Case{33, 4, 2, 16}, Case{100, 4, 1, 32}}) {
    const std::string what = "T=" + std::to_string(c.T) + " H=" + std::to_string(c.H) + " Hkv=" + std::to_string(c.Hkv);
    auto [cos, sin] = Rope(c.T, c.hd);
    torch::Tensor qkv0 = torch::randn({2, c.T, (c.H + 2 * c.Hkv) * c.hd});
    torch::Tensor g = torch::randn({2, c.T, c.H * c.hd});
    auto a = Leaves({qkv0}), b = Leaves({qkv0});
    torch::Tensor ya = CausalSelfAttention(a[0], cos, sin, c.H, c.Hkv);
    torch::Tensor yb = CausalSelfAttentionReference(b[0], cos, sin, c.H, c.Hkv);
    ExpectClose(ya, yb, 1e-5, 1e-5, what + " forward");
    ExpectClose(grad({ya}, {a[0]}, {g})[0], grad({yb}, {b[0]}, {g})[0], 1e-4, 1e-5, what + " backward");
  }
}

// A token never sees the future through the fused attention either.
TEST(FusedOpsTest, CausalSelfAttentionIsCausal) {
  torch::manual_seed(5);
  auto [cos, sin] = Rope(70, 8);
  torch::Tensor qkv = torch::randn({1, 70, 3 * 2 * 8});
  torch::Tensor changed = qkv.clone();
  changed.narrow(1, 50, 20).normal_();
  torch::Tensor a = CausalSelfAttention(qkv, cos, sin, 2, 2), b = CausalSelfAttention(changed, cos, sin, 2, 2);
  EXPECT_TRUE(torch::equal(a.narrow(1, 0, 50), b.narrow(1, 0, 50)));
}

TEST(FusedOpsTest, AdamWUpdateMatchesTheAtenOps) {
  torch::manual_seed(6);
  torch::Tensor p0 = torch::randn({300}), g = torch::randn({300}), m0 = torch::randn({300}) * 0.1,
                v0 = torch::rand({300}) * 0.1;
  const double lr = 3e-3, b1 = 0.9, b2 = 0.95, eps = 1e-8, decay = lr * 0.1, bc1 = 1 - std::pow(b1, 3),
               bc2 = 1 - std::pow(b2, 3);
  torch::Tensor p = p0.clone(), m = m0.clone(), v = v0.clone();
  AdamWUpdate(p, g, m, v, lr, b1, b2, eps, decay, bc1, bc2);
  torch::Tensor rp = p0.clone(), rm = m0.clone(), rv = v0.clone();
  rp.mul_(1.0 - decay);
  rm.mul_(b1).add_(g, 1.0 - b1);
  rv.mul_(b2).addcmul_(g, g, 1.0 - b2);
  rp.addcdiv_(rm, (rv / bc2).sqrt_().add_(eps), -lr / bc1);
  ExpectClose(m, rm, 1e-6, 1e-7, "m");
  ExpectClose(v, rv, 1e-6, 1e-8, "v");
  ExpectClose(p, rp, 1e-6, 1e-7, "p");
}

TEST(FusedOpsTest, GemmMatchesMm) {
  torch::manual_seed(7);
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      const int64_t m = 5, n = 7, k = 3;
      // Operands inside wider buffers (leading dimension > width).
      torch::Tensor abuf = torch::randn({ta ? k : m, 9}), bbuf = torch::randn({tb ? n : k, 11}), cbuf = torch::randn({m, 8});
      torch::Tensor a = abuf.narrow(1, 0, ta ? m : k), b = bbuf.narrow(1, 0, tb ? k : n);
      torch::Tensor want = 0.5 * torch::mm(ta ? a.t() : a, tb ? b.t() : b) + 2.0 * cbuf.narrow(1, 0, n);
      Gemm(ta, tb, m, n, k, 0.5f, abuf.data_ptr<float>(), 9, bbuf.data_ptr<float>(), 11, 2.0f, cbuf.data_ptr<float>(), 8);
      ExpectClose(cbuf.narrow(1, 0, n), want, 1e-5, 1e-6, std::string("ta=") + (ta ? "1" : "0") + " tb=" + (tb ? "1" : "0"));
    }
  }
}

// A training step's gradients are the same bits on 1 and 2 threads (the
// kernels split work by rows and reduce each output in a fixed order).
TEST(FusedOpsTest, GradientsDoNotDependOnTheThreadCount) {
  ModelConfig c{64, 32, 2, 4, 64, 80};
  c.n_kv_heads = 2;
  auto run = [&](int threads) {
    SetComputeThreads(threads);  // as the trainer does: one-thread OpenBLAS
    torch::manual_seed(8);
    Llama m(c);
    InitWeights(m);
    torch::Tensor tokens = torch::randint(0, 64, {3, 71}, torch::kInt64);
    torch::Tensor loss = m->loss(tokens.narrow(1, 0, 70), tokens.narrow(1, 1, 70));
    loss.backward();
    std::vector<torch::Tensor> out = {loss.detach()};
    for (const auto& p : m->parameters()) out.push_back(p.grad().clone());
    return out;
  };
  const int before = torch::get_num_threads();
  auto one = run(1), two = run(2);
  torch::set_num_threads(before);
  ASSERT_EQ(one.size(), two.size());
  // Every product is split by rows into single-threaded BLAS calls, and every
  // reduction keeps a fixed order, so the bits must agree.
  for (size_t i = 0; i < one.size(); ++i) EXPECT_TRUE(torch::equal(one[i], two[i])) << i;
}

// The model's fused loss is cross_entropy(forward(x), y), and so are its
// gradients, against the same model with the fused kernels bypassed
// (double precision takes the plain ATen path).
TEST(FusedOpsTest, ModelLossMatchesUnfusedModel) {
  ModelConfig c{50, 32, 2, 2, 64, 40};
  torch::manual_seed(9);
  Llama a(c);
  InitWeights(a);
  Llama b(c);
  {
    torch::NoGradGuard ng;
    auto pa = a->named_parameters(), pb = b->named_parameters();
    for (const auto& item : pa) pb[item.key()].copy_(item.value());
  }
  b->to(torch::kFloat64);
  torch::Tensor tokens = torch::randint(0, 50, {2, 41}, torch::kInt64);
  torch::Tensor x = tokens.narrow(1, 0, 40), y = tokens.narrow(1, 1, 40);
  torch::Tensor la = a->loss(x, y);
  torch::Tensor logits = b->forward(x);
  torch::Tensor lb = torch::nn::functional::cross_entropy(logits.reshape({-1, 50}), y.reshape({-1}));
  EXPECT_NEAR(la.item<double>(), lb.item<double>(), 1e-5);
  la.backward();
  lb.backward();
  auto pa = a->named_parameters(), pb = b->named_parameters();
  for (const auto& item : pa) {
    ExpectClose(item.value().grad().to(torch::kFloat64), pb[item.key()].grad(), 1e-3, 1e-6, item.key());
  }
  torch::NoGradGuard ng;
  ExpectClose(a->forward(x).to(torch::kFloat64), logits, 1e-4, 1e-5, "logits");
}

}  // namespace
}  // namespace sdft
