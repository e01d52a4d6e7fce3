// Data-parallel training over PyTorch's own c10d process groups: Gloo on the
// CPU, NCCL for CUDA tensors when LibTorch has it, set up the way torchrun
// does, from RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT and LOCAL_RANK. Every
// rank holds the whole model; after each backward pass the gradients are
// averaged (one flat all-reduce), so all ranks take the same optimizer step
// and stay identical. Rank 0 alone writes checkpoints and metrics.
#ifndef SDFT_TRAINING_DISTRIBUTED_H_
#define SDFT_TRAINING_DISTRIBUTED_H_

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sdft {

struct DistEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  bool enabled() const { return world_size > 1; }
};

// Reads the torchrun variables; absent ones mean a single process. Bad values
// (RANK >= WORLD_SIZE, a non-numeric port) are errors naming the variable.
absl::StatusOr<DistEnv> DistEnvFromEnvironment();

class DataParallel {
 public:
  // Joins the group (rank 0 hosts the TCP store); blocks until all ranks
  // have joined or `timeout_s` passes. With `cuda` and a LibTorch built with
  // NCCL (SDFT_WITH_NCCL, set by CMake when the pip PyTorch has it), the
  // group is NCCL; otherwise Gloo.
  static absl::StatusOr<std::unique_ptr<DataParallel>> Create(const DistEnv& env, bool cuda = false,
                                                              int timeout_s = 300);
  const char* backend() const;
  ~DataParallel();

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }

  // Averages the tensors across ranks in place (flattened into one buffer:
  // one collective per step instead of one per parameter).
  void AverageInPlace(const std::vector<torch::Tensor>& tensors);
  double Average(double x);
  // Copies rank 0's values into every rank's tensors.
  void Broadcast(const std::vector<torch::Tensor>& tensors);
  void Barrier();

 private:
  DataParallel() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  DistEnv env_;
};

// The rows [begin, end) of a global batch of `batch` rows that `rank` of
// `world` computes: contiguous and as equal as possible.
std::pair<int64_t, int64_t> RankRows(int64_t batch, int rank, int world);

}  // namespace sdft

#endif  // SDFT_TRAINING_DISTRIBUTED_H_
