#include "training/distributed.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef SDFT_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sdft {

// Both backends are used through the same calls (allreduce, broadcast,
// barrier), which ProcessGroupGloo and ProcessGroupNCCL both declare.
struct DataParallel::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#ifdef SDFT_WITH_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
  template <typename F>
  void With(F&& f) {
#ifdef SDFT_WITH_NCCL
    if (nccl) return f(*nccl);
#endif
    f(*gloo);
  }
};

absl::StatusOr<DistEnv> DistEnvFromEnvironment() {
  DistEnv env;
  auto read_int = [](const char* name, int* out) -> absl::Status {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return absl::OkStatus();
    if (!absl::SimpleAtoi(v, out)) {
      return absl::InvalidArgumentError(absl::StrCat("environment variable ", name, "='", v, "' is not an integer"));
    }
    return absl::OkStatus();
  };
  for (auto [name, out] : {std::pair<const char*, int*>{"RANK", &env.rank}, {"WORLD_SIZE", &env.world_size},
                           {"LOCAL_RANK", &env.local_rank}, {"MASTER_PORT", &env.master_port}}) {
    if (absl::Status s = read_int(name, out); !s.ok()) return s;
  }
  if (const char* a = std::getenv("MASTER_ADDR"); a != nullptr && *a) env.master_addr = a;
  if (env.world_size < 1) return absl::InvalidArgumentError("WORLD_SIZE must be at least 1");
  if (env.rank < 0 || env.rank >= env.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("RANK=", env.rank, " is not in [0, WORLD_SIZE=", env.world_size, ")"));
  }
  if (env.master_port <= 0 || env.master_port > 65535) return absl::InvalidArgumentError("MASTER_PORT out of range");
  return env;
}

DataParallel::~DataParallel() = default;

const char* DataParallel::backend() const {
#ifdef SDFT_WITH_NCCL
  if (impl_->nccl) return "nccl";
#endif
  return "gloo";
}

absl::StatusOr<std::unique_ptr<DataParallel>> DataParallel::Create(const DistEnv& env, bool cuda, int timeout_s) {
  std::unique_ptr<DataParallel> dp(new DataParallel);
  dp->env_ = env;
  dp->impl_ = std::make_unique<Impl>();
  try {
    c10d::TCPStoreOptions opts;
    opts.port = static_cast<std::uint16_t>(env.master_port);
    opts.isServer = env.rank == 0;
    opts.numWorkers = env.world_size;
    opts.timeout = std::chrono::seconds(timeout_s);
    dp->impl_->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, opts);
#ifdef SDFT_WITH_NCCL
    if (cuda) {
      dp->impl_->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(dp->impl_->store, env.rank, env.world_size);
      return dp;
    }
#else
    (void)cuda;
#endif
    auto options = c10d::ProcessGroupGloo::Options::create(std::chrono::seconds(timeout_s));
    // Loopback for a single machine; the master's address otherwise.
    options->devices.push_back(env.master_addr == "127.0.0.1" || env.master_addr == "localhost"
                                   ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                   : c10d::ProcessGroupGloo::createDefaultDevice());
    dp->impl_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(dp->impl_->store, env.rank, env.world_size, options);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("joining the process group (rank ", env.rank, " of ", env.world_size,
                                               " at ", env.master_addr, ":", env.master_port, ") failed: ", e.what()));
  }
  return dp;
}

void DataParallel::AverageInPlace(const std::vector<torch::Tensor>& tensors) {
  if (tensors.empty()) return;
  std::vector<torch::Tensor> flat_parts;
  for (const torch::Tensor& t : tensors) flat_parts.push_back(t.reshape({-1}));
  std::vector<torch::Tensor> buf = {torch::cat(flat_parts)};
  impl_->With([&](auto& g) { g.allreduce(buf)->wait(); });
  buf[0].div_(static_cast<double>(env_.world_size));
  int64_t at = 0;
  for (const torch::Tensor& t : tensors) {
    t.copy_(buf[0].narrow(0, at, t.numel()).view_as(t));
    at += t.numel();
  }
}

double DataParallel::Average(double x) {
  std::vector<torch::Tensor> buf = {torch::tensor({x}, torch::kFloat64)};
#ifdef SDFT_WITH_NCCL
  if (impl_->nccl) buf[0] = buf[0].to(torch::kCUDA);
#endif
  impl_->With([&](auto& g) { g.allreduce(buf)->wait(); });
  buf[0] = buf[0].cpu();
  return buf[0].item<double>() / env_.world_size;
}

void DataParallel::Broadcast(const std::vector<torch::Tensor>& tensors) {
  for (const torch::Tensor& t : tensors) {
    std::vector<torch::Tensor> buf = {t.contiguous()};
    impl_->With([&](auto& g) { g.broadcast(buf)->wait(); });
    if (!t.is_contiguous()) t.copy_(buf[0]);
  }
}

void DataParallel::Barrier() {
  impl_->With([&](auto& g) { g.barrier()->wait(); });
}

std::pair<int64_t, int64_t> RankRows(int64_t batch, int rank, int world) {
  return {batch * rank / world, batch * (rank + 1) / world};
}

}  // namespace sdft
