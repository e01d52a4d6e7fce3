// Fused CPU kernels for the training step: each op is one pass over its rows
// (forward and backward written out, as in llm.c) instead of the half dozen
// elementwise ATen ops, each reading and writing a full tensor, that the plain
// composition runs. Every op falls back to that composition when the tensor is
// not a CPU float32 tensor (CUDA, double in tests) or when SDFT_UNFUSED is set
// in the environment (to compare the two).
//
// Determinism: the loops are split across threads by rows (or, for the
// reductions over rows, by columns), and each output element is reduced in a
// fixed order, so results do not depend on the number of threads.
#ifndef SDFT_TRAINING_FUSED_OPS_H_
#define SDFT_TRAINING_FUSED_OPS_H_

#include <torch/torch.h>

namespace sdft {

// Whether the fused kernels are on at all (SDFT_UNFUSED unset).
bool FusedKernelsEnabled();

// Whether the fused kernels take `t`: a float32 CPU tensor, SDFT_UNFUSED unset.
bool UseFusedCpu(const torch::Tensor& t);

// x * rsqrt(mean(x^2, -1) + eps) * weight, over the last dimension.
torch::Tensor RmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// x [..., K] @ weight[N, K]^T (a bias-free linear layer). On the CPU the
// rows of each product (forward and both gradients) are split across
// LibTorch's threads, one single-threaded BLAS call per block.
torch::Tensor Linear(const torch::Tensor& x, const torch::Tensor& weight);

// SwiGLU's gating on a fused gate/up projection: gate_up [..., 2F] holds the
// gate in its first F columns and up in the last F; returns silu(gate) * up.
torch::Tensor SwiGlu(const torch::Tensor& gate_up);

// Mean cross-entropy of logits = hidden @ weight^T against targets, fused: the
// logits buffer is turned into probabilities in place, and the backward pass
// writes the logits' gradient (p - onehot) / N into that same buffer, so no
// log-softmax tensor or one-hot gradient is ever materialised.
// hidden [N, d], weight [V, d], targets [N] int64. Returns a scalar.
// token_weights, when defined, is [V] float: row i's loss is multiplied by
// token_weights[targets[i]] (the mean still divides by N).
torch::Tensor LinearCrossEntropy(const torch::Tensor& hidden, const torch::Tensor& weight, const torch::Tensor& targets,
                                 const torch::Tensor& token_weights = {});

// One AdamW step for one parameter, in one pass over its elements (the ATen
// version makes six): p *= 1 - decay; m = beta1 m + (1 - beta1) g;
// v = beta2 v + (1 - beta2) g^2; p -= lr / bc1 * m / (sqrt(v / bc2) + eps).
// The same formulas, in the same order, as the ATen ops it replaces (which it
// falls back to off the CPU).
void AdamWUpdate(torch::Tensor& p, const torch::Tensor& g, torch::Tensor& m, torch::Tensor& v, double lr, double beta1,
                 double beta2, double eps, double decay, double bc1, double bc2);

// Row-major C = alpha * op(A) op(B) + beta * C on raw float buffers, straight
// to BLAS (sgemm) when the process has one, otherwise through ATen. For the
// small per-head products of attention, where ATen's dispatch would cost more
// than the product.
void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// Sets LibTorch's thread count, and OpenBLAS's to one (OpenBLAS keeps a pool
// of its own, which torch::set_num_threads does not touch): the fused kernels
// split products across LibTorch's threads themselves (Linear). Two pools on
// a small machine spin against each other in sched_yield: with data-parallel
// ranks of one thread each, an OpenBLAS helper per rank took a third of the
// CPU time. Under SDFT_UNFUSED, with several threads, OpenBLAS keeps its
// default, since the plain ATen products rely on it.
void SetComputeThreads(int n);

// Keeps large allocations on the heap instead of mmap/munmap, so the
// training step's big buffers (logits: 64 MB at 4,096 tokens x 4,096 pieces)
// are not page-faulted in afresh at every step. Call once at trainer start.
void TuneAllocatorForTraining();

}  // namespace sdft

#endif  // SDFT_TRAINING_FUSED_OPS_H_
