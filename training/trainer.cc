#include "training/trainer.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "training/distributed.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/atomic_file.h"
#include "common/interrupt.h"
#include "common/progress.h"
#include "training/checkpoint.h"
#include "training/fused_ops.h"
#include "training/model.h"
#include "training/token_data.h"
#include "tokenizer/vocab.h"

namespace sdft {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

// AdamW, written out: decoupled weight decay only on matrices (embeddings and
// projections), never on norm gains. State is two tensors per parameter; the
// update is one fused pass per parameter (fused_ops.h).
struct AdamW {
  std::vector<std::string> names;
  std::vector<torch::Tensor> params, m, v;
  std::vector<bool> decay;
  int64_t t = 0;

  explicit AdamW(Llama& model) {
    TuneAllocatorForTraining();  // the trainer's start: see fused_ops.h
    for (auto& item : model->named_parameters()) {
      names.push_back(item.key());
      params.push_back(item.value());
      m.push_back(torch::zeros_like(item.value()));
      v.push_back(torch::zeros_like(item.value()));
      decay.push_back(item.value().dim() >= 2);
    }
  }

  void Step(const TrainConfig& c, double lr) {
    torch::NoGradGuard no_grad;
    ++t;
    const double bc1 = 1.0 - std::pow(c.beta1, t), bc2 = 1.0 - std::pow(c.beta2, t);
    for (size_t i = 0; i < params.size(); ++i) {
      torch::Tensor& p = params[i];
      if (!p.grad().defined()) continue;
      const double decay_now = decay[i] && c.weight_decay > 0 ? lr * c.weight_decay : 0.0;
      AdamWUpdate(p, p.grad(), m[i], v[i], lr, c.beta1, c.beta2, c.adam_eps, decay_now, bc1, bc2);
    }
  }

  TensorMap State() const {
    TensorMap s;
    for (size_t i = 0; i < names.size(); ++i) {
      s["m." + names[i]] = m[i];
      s["v." + names[i]] = v[i];
    }
    return s;
  }

  absl::Status Load(const TensorMap& s, const std::string& source) {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < names.size(); ++i) {
      auto mi = s.find("m." + names[i]), vi = s.find("v." + names[i]);
      if (mi == s.end() || vi == s.end()) return absl::DataLossError(absl::StrCat(source, ": no optimizer state for '", names[i], "'"));
      m[i].copy_(mi->second);
      v[i].copy_(vi->second);
    }
    return absl::OkStatus();
  }
};

std::string StepName(int64_t step) { return absl::StrFormat("step_%08d", step); }

// A checkpoint is a directory written under a temporary name and renamed
// into place; "latest" (written atomically, last) names the newest.
absl::Status SaveCheckpoint(const fs::path& run, Llama& model, const AdamW& opt, int64_t step,
                            const TrainConfig& c, int64_t keep) {
  const fs::path dir = run / "checkpoints", tmp = dir / ("." + StepName(step) + ".tmp"), final_dir = dir / StepName(step);
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return absl::InternalError(absl::StrCat(tmp.string(), ": cannot create: ", ec.message()));
  if (absl::Status s = SaveTensorMap((tmp / "model.safetensors").string(), ModelTensors(model)); !s.ok()) return s;
  if (absl::Status s = SaveTensorMap((tmp / "optimizer.safetensors").string(), opt.State()); !s.ok()) return s;
  json state = {{"step", step}, {"adam_t", opt.t}, {"config", json::parse(TrainConfigToJson(c))}};
  if (absl::Status s = WriteFileAtomically((tmp / "state.json").string(), state.dump(2) + "\n"); !s.ok()) return s;
  fs::remove_all(final_dir, ec);
  fs::rename(tmp, final_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(final_dir.string(), ": rename failed: ", ec.message()));
  if (absl::Status s = SyncDirectory(dir.string()); !s.ok()) return s;
  if (absl::Status s = WriteFileAtomically((run / "latest").string(), StepName(step) + "\n"); !s.ok()) return s;
  // Keep the newest `keep` checkpoints.
  std::vector<fs::path> all;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().rfind("step_", 0) == 0) all.push_back(e.path());
  }
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i + keep < all.size(); ++i) fs::remove_all(all[i], ec);
  return absl::OkStatus();
}

struct Loaded {
  int64_t step = 0, adam_t = 0;
  TensorMap model, optimizer;
};

// Reads a checkpoint directory (or a run directory's latest checkpoint).
absl::StatusOr<Loaded> LoadCheckpoint(const fs::path& path, bool with_optimizer) {
  fs::path dir = path;
  if (fs::exists(path / "latest")) {
    std::string name;
    if (absl::Status s = ReadFile((path / "latest").string(), &name); !s.ok()) return s;
    while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
    dir = path / "checkpoints" / name;
  }
  std::string text;
  if (absl::Status s = ReadFile((dir / "state.json").string(), &text); !s.ok()) {
    return absl::NotFoundError(absl::StrCat(dir.string(), ": not a checkpoint (no state.json)"));
  }
  auto state = json::parse(text, nullptr, false);
  if (state.is_discarded() || !state.contains("step")) {
    return absl::DataLossError(absl::StrCat((dir / "state.json").string(), ": corrupted"));
  }
  Loaded l;
  l.step = state["step"];
  l.adam_t = state.value("adam_t", int64_t{0});
  absl::StatusOr<TensorMap> m = LoadTensorMap((dir / "model.safetensors").string());
  if (!m.ok()) return m.status();
  l.model = std::move(*m);
  if (with_optimizer) {
    absl::StatusOr<TensorMap> o = LoadTensorMap((dir / "optimizer.safetensors").string());
    if (!o.ok()) return o.status();
    l.optimizer = std::move(*o);
  }
  return l;
}

// CUDA autocast to bfloat16 for the scope of one forward pass.
class Bf16Autocast {
 public:
  explicit Bf16Autocast(bool on) : on_(on) {
    if (!on_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
#endif
  }
  ~Bf16Autocast() {
    if (!on_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
    at::autocast::set_enabled(false);
#endif
    at::autocast::clear_cache();
  }

 private:
  bool on_;
};

// train.loss_weights as a [vocab] tensor (ones elsewhere), each key resolved
// to its token through the data's vocab.tsv; undefined when there are none.
absl::StatusOr<torch::Tensor> TokenLossWeights(const TrainConfig& c, const std::string& data_dir) {
  if (c.loss_weights.empty()) return torch::Tensor();
  const std::string path = (fs::path(data_dir) / "vocab.tsv").string();
  absl::StatusOr<Vocab> vocab = Vocab::Load(path);
  if (!vocab.ok()) return absl::Status(vocab.status().code(), absl::StrCat("train.loss_weights: ", vocab.status().message()));
  torch::Tensor w = torch::ones({c.model.vocab_size}, torch::kFloat32);
  for (const auto& [piece, weight] : c.loss_weights) {
    const int64_t id = vocab->Find(piece);
    if (id < 0 || id >= c.model.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("train.loss_weights: '", piece, "' is not a single token of ", path));
    }
    w[id] = weight;
  }
  return w;
}

double CrossEntropy(Llama& model, torch::Tensor batch, torch::Tensor* loss_out, bool bf16 = false,
                    const torch::Tensor& token_weights = {}) {
  Bf16Autocast autocast(bf16);
  const torch::Device device = model->embed_tokens->weight.device();
  if (!device.is_cpu()) batch = batch.pin_memory().to(device, /*non_blocking=*/true);
  const int64_t T = batch.size(1) - 1;
  torch::Tensor x = batch.narrow(1, 0, T), y = batch.narrow(1, 1, T).reshape({-1});
  torch::Tensor loss = model->loss(x, y, token_weights);  // = cross_entropy(forward(x), y), fused
  if (loss_out) *loss_out = loss;
  return loss.item<double>();
}

}  // namespace

absl::StatusOr<TrainResult> RunTrain(const TrainOptions& opt) {
  TrainConfig c = opt.config;
  SetComputeThreads(static_cast<int>(c.threads));
  absl::StatusOr<std::unique_ptr<TokenData>> train = TokenData::Open(opt.data_dir, "train");
  if (!train.ok()) return train.status();
  absl::StatusOr<std::unique_ptr<TokenData>> val = TokenData::Open(opt.data_dir, "val");
  const bool have_val = val.ok();
  c.model.vocab_size = (*train)->vocab_size();
  // Checked before anything is written: a bad key leaves no run directory.
  absl::StatusOr<torch::Tensor> token_weights = TokenLossWeights(c, opt.data_dir);
  if (!token_weights.ok()) return token_weights.status();

  // Data parallelism (docs/scaling.md): ranks from the torchrun variables.
  absl::StatusOr<DistEnv> env = DistEnvFromEnvironment();
  if (!env.ok()) return env.status();
  std::unique_ptr<DataParallel> dp;
  if (env->enabled()) {
    if (c.batch_size % env->world_size != 0) {
      return absl::InvalidArgumentError(absl::StrCat("train.batch_size (", c.batch_size, ") must be a multiple of the ",
                                                     env->world_size, " data-parallel processes (it is the global batch)"));
    }
    absl::StatusOr<std::unique_ptr<DataParallel>> d =
        DataParallel::Create(*env, opt.device.rfind("cuda", 0) == 0);
    if (!d.ok()) return d.status();
    dp = std::move(*d);
  }
  const bool leader = !dp || dp->rank() == 0;  // writes checkpoints, metrics, progress
  const auto [row_begin, row_end] = dp ? RankRows(c.batch_size, dp->rank(), dp->world_size())
                                       : std::pair<int64_t, int64_t>{0, c.batch_size};
  auto barrier = [&] {
    if (dp) dp->Barrier();
  };

  const fs::path run(opt.out_dir);
  std::error_code ec;
  const bool resuming = fs::exists(run / "latest");
  if (leader && !resuming && fs::exists(run)) {
    // A run that stopped before its first checkpoint left only files this
    // trainer writes: start it again. Anything else is someone else's.
    for (const auto& e : fs::directory_iterator(run)) {
      const std::string name = e.path().filename().string();
      const bool ours = name == "run.json" || name == "metrics.jsonl" || name == "tokenizer.model" ||
                        name == "vocab.tsv" || name == "checkpoints" || name.rfind(".", 0) == 0;
      if (!ours) return absl::AlreadyExistsError(absl::StrCat(opt.out_dir, ": exists and holds no checkpoint to resume"));
    }
  }
  if (leader) fs::create_directories(run / "checkpoints", ec);
  if (ec) return absl::InternalError(absl::StrCat(opt.out_dir, ": cannot create: ", ec.message()));

  // The model: random init, or weights from --init (a checkpoint, a run
  // directory or a Hugging Face directory). When the init has a config.json
  // (finished runs and Hugging Face directories do), its architecture wins
  // over the config file's [model].
  if (!opt.init.empty() && fs::exists(fs::path(opt.init) / "config.json")) {
    absl::StatusOr<ModelConfig> hf = ReadHfConfig(opt.init);
    if (!hf.ok()) return hf.status();
    c.model = *hf;
  }
  if (c.model.vocab_size != (*train)->vocab_size()) {
    return absl::InvalidArgumentError(absl::StrCat("--init model has a vocabulary of ", c.model.vocab_size,
                                                   " but the data's tokenizer has ", (*train)->vocab_size()));
  }
  if (c.seq_len > c.model.max_seq_len) c.seq_len = c.model.max_seq_len;
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(opt.device);
    // Data parallel on one machine: rank r of "cuda" takes GPU LOCAL_RANK.
    if (device.is_cuda() && !device.has_index() && dp) device = torch::Device(torch::kCUDA, env->local_rank);
  } catch (const std::exception&) {
    return absl::InvalidArgumentError(absl::StrCat("--device: '", opt.device, "' is not cpu, cuda or cuda:N"));
  }
  if (device.is_cuda() && !torch::cuda::is_available()) {
    return absl::InvalidArgumentError("--device cuda: this LibTorch has no CUDA, or no GPU is visible "
                                      "(Debian's LibTorch is CPU-only; build against a pip PyTorch, see docs/training.md)");
  }
  if (c.precision == "bf16" && !device.is_cuda()) {
    return absl::InvalidArgumentError("train.precision = \"bf16\" needs --device cuda (bf16 autocast is for GPUs)");
  }
  const bool bf16 = c.precision == "bf16";
  if (token_weights->defined()) *token_weights = token_weights->to(device);
  torch::manual_seed(c.seed);
  Llama model(c.model);
  InitWeights(model);  // on the CPU, so the initial weights are the same on every device
  model->to(device);
  AdamW adam(model);
  int64_t start = 0;
  if (resuming) {
    absl::StatusOr<Loaded> ck = LoadCheckpoint(run, true);
    if (!ck.ok()) return ck.status();
    if (absl::Status s = LoadModelTensors(model, ck->model, opt.out_dir); !s.ok()) return s;
    if (absl::Status s = adam.Load(ck->optimizer, opt.out_dir); !s.ok()) return s;
    start = ck->step;
    adam.t = ck->adam_t;
  } else if (!opt.init.empty()) {
    if (fs::exists(fs::path(opt.init) / "state.json") || fs::exists(fs::path(opt.init) / "latest")) {
      absl::StatusOr<Loaded> ck = LoadCheckpoint(opt.init, false);
      if (!ck.ok()) return ck.status();
      if (absl::Status s = LoadModelTensors(model, ck->model, opt.init); !s.ok()) return s;
    } else {
      if (absl::Status s = ImportHf(model, opt.init); !s.ok()) return s;
    }
  }
  // Every replica starts from rank 0's weights (they are equal already, by
  // the seed; this makes it a fact rather than an assumption).
  if (dp) {
    std::vector<torch::Tensor> params;
    for (auto& p : model->parameters()) params.push_back(p.data());
    dp->Broadcast(params);
  }
  // Record what this run is (once), and ship the tokenizer with it.
  if (leader && !resuming) {
    json info = {{"config", json::parse(TrainConfigToJson(c))}, {"config_source", opt.config_source},
                 {"data", fs::absolute(opt.data_dir).string()}, {"init", opt.init},
                 {"parameters", model->num_parameters()}};
    if (absl::Status s = WriteFileAtomically((run / "run.json").string(), info.dump(2) + "\n"); !s.ok()) return s;
    for (const char* f : {"tokenizer.model", "vocab.tsv"}) {
      if (fs::exists(fs::path(opt.data_dir) / f)) fs::copy_file(fs::path(opt.data_dir) / f, run / f, fs::copy_options::overwrite_existing, ec);
    }
  }

  // metrics.jsonl: appended; on resume, lines past the checkpoint are dropped.
  const std::string metrics_path = leader ? (run / "metrics.jsonl").string() : "/dev/null";
  if (leader) {
    std::string old, kept;
    ReadFile(metrics_path, &old).IgnoreError();
    for (size_t p = 0; p < old.size();) {
      size_t q = old.find('\n', p);
      if (q == std::string::npos) break;
      auto j = json::parse(old.substr(p, q - p), nullptr, false);
      if (!j.is_discarded() && j.value("step", int64_t{0}) <= start) kept += old.substr(p, q - p + 1);
      p = q + 1;
    }
    if (absl::Status s = WriteFileAtomically(metrics_path, kept); !s.ok()) return s;
  }
  std::FILE* metrics = std::fopen(metrics_path.c_str(), "ab");
  if (metrics == nullptr) return absl::InternalError(absl::StrCat(metrics_path, ": cannot open"));

  TrainResult result;
  const int64_t end = opt.stop_after >= 0 ? std::min(c.steps, start + opt.stop_after) : c.steps;
  const int64_t tokens_per_step = c.batch_size * c.grad_accum * c.seq_len;
  Progress progress("train", end - start, "steps");
  if (!opt.progress || !leader) progress.set_enabled(false);
  auto t0 = std::chrono::steady_clock::now();
  double last_loss = 0, last_val = std::nan("");
  auto evaluate = [&]() {
    if (!have_val) return std::nan("");
    torch::NoGradGuard no_grad;
    double sum = 0;
    for (int64_t i = 0; i < c.eval_batches; ++i) {
      sum += CrossEntropy(model, (*val)->BatchRows(c.seed ^ 0x7A1, i, 0, row_begin, row_end, c.seq_len + 1, c.align_to_documents),
                          nullptr, bf16);
    }
    return dp ? dp->Average(sum / c.eval_batches) : sum / c.eval_batches;
  };

  for (int64_t step = start; step < end; ++step) {
    if (Interrupted()) {
      std::fclose(metrics);
      return absl::CancelledError("interrupted");
    }
    const double lr = LearningRate(c, step);
    model->zero_grad();
    double loss_sum = 0;
    for (int64_t micro = 0; micro < c.grad_accum; ++micro) {
      torch::Tensor loss;
      const double l = CrossEntropy(
          model, (*train)->BatchRows(c.seed, step, micro, row_begin, row_end, c.seq_len + 1, c.align_to_documents), &loss,
          bf16, *token_weights);
      if (std::isfinite(l)) (loss / static_cast<double>(c.grad_accum)).backward();
      loss_sum += l;
    }
    // Data parallel: each rank's mean over its rows, averaged, is the mean
    // over the global batch (equal row counts), and so are the gradients.
    const double loss = dp ? dp->Average(loss_sum / c.grad_accum) : loss_sum / c.grad_accum;
    if (!std::isfinite(loss)) {  // decided on the averaged loss: every rank stops together
      std::fclose(metrics);
      return absl::InternalError(absl::StrCat("step ", step, ": the loss is ", loss, "; stopping. The last good checkpoint is ",
                                              (run / "latest").string(), " (lower train.lr or raise train.warmup_steps)"));
    }
    if (dp) {
      std::vector<torch::Tensor> grads;
      for (auto& p : model->parameters()) {
        if (p.grad().defined()) grads.push_back(p.grad());
      }
      dp->AverageInPlace(grads);
    }
    double grad_norm = 0;
    if (c.grad_clip > 0) {
      grad_norm = torch::nn::utils::clip_grad_norm_(model->parameters(), c.grad_clip);
    } else {
      for (const auto& p : model->parameters()) {
        if (p.grad().defined()) grad_norm += p.grad().pow(2).sum().item<double>();
      }
      grad_norm = std::sqrt(grad_norm);
    }
    adam.Step(c, lr);
    last_loss = loss;
    result.losses.push_back(loss);

    const int64_t done = step + 1;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double tps = (done - start) * tokens_per_step / std::max(secs, 1e-9);
    const bool eval_now = done % c.eval_every == 0 || done == c.steps;
    if (eval_now) last_val = evaluate();
    if (leader && (done % c.log_every == 0 || eval_now || done == end)) {
      json line = {{"step", done}, {"loss", loss}, {"lr", lr}, {"grad_norm", grad_norm}, {"tokens_per_s", tps}};
      if (eval_now && std::isfinite(last_val)) line["val_loss"] = last_val;
      std::string s = line.dump() + "\n";
      std::fwrite(s.data(), 1, s.size(), metrics);
      std::fflush(metrics);
    }
    progress.Update(done - start, 0, absl::StrFormat("loss %.4f", loss));
    if (done % c.checkpoint_every == 0 || done == end) {
      if (leader) {
        if (absl::Status s = SaveCheckpoint(run, model, adam, done, c, c.keep_checkpoints); !s.ok()) {
          std::fclose(metrics);
          return s;
        }
      }
      barrier();  // nobody runs ahead of a checkpoint it might resume from
    }
    result.tokens_per_second = tps;
  }
  std::fclose(metrics);
  progress.Finish();
  result.steps_done = end;
  result.final_loss = last_loss;
  result.final_val_loss = last_val;
  if (leader && end == c.steps) {
    // The finished model, in the layout Hugging Face reads.
    if (absl::Status s = ExportHf(model, opt.out_dir, 1, (*train)->eos_id()); !s.ok()) return s;
  }
  return result;
}

}  // namespace sdft
