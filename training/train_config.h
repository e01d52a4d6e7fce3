// Training configuration: a TOML file (or a built-in preset) with a [model]
// and a [train] table. Presets: "tiny" (tests), "small" (~1.5M parameters,
// the default experiment's size). Unknown keys and bad values are errors
// naming file:line:col. See docs/training.md.
#ifndef SDFT_TRAINING_TRAIN_CONFIG_H_
#define SDFT_TRAINING_TRAIN_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "training/model.h"

namespace sdft {

struct TrainConfig {
  ModelConfig model;  // vocab_size comes from the data
  int64_t steps = 2000;
  int64_t batch_size = 16;
  int64_t seq_len = 128;
  int64_t grad_accum = 1;
  double lr = 3e-3;
  double min_lr = 3e-4;
  int64_t warmup_steps = 100;
  double weight_decay = 0.1;
  double beta1 = 0.9, beta2 = 0.95, adam_eps = 1e-8;
  double grad_clip = 1.0;
  int64_t log_every = 10;
  int64_t eval_every = 200;
  int64_t eval_batches = 8;
  int64_t checkpoint_every = 500;
  int64_t keep_checkpoints = 2;
  uint64_t seed = 1;
  int64_t threads = 0;  // 0: all cores
  // Windows start at a document's first token instead of anywhere: short
  // documents (chat transcripts) are then seen whole, from their beginning.
  bool align_to_documents = false;
  // "bf16": the forward pass under CUDA autocast (bfloat16 matmuls, fp32
  // weights, optimizer and loss). CUDA only; "fp32" everywhere else.
  std::string precision = "fp32";
  // Per-token loss weights, by the token's text (a piece of vocab.tsv, e.g.
  // "<rejected/>" = 10): a target token listed here counts that many times in
  // the training loss (the mean still divides by the token count). For rare
  // tokens that carry the behaviour under study, such as a chat transcript's
  // decision tag, among hundreds of ordinary ones. Validation loss is
  // unweighted. Empty: plain cross-entropy.
  std::map<std::string, double> loss_weights;
};

TrainConfig PresetConfig(const std::string& name, bool* found);
// `path` is a TOML file, or "preset:NAME".
absl::StatusOr<TrainConfig> LoadTrainConfig(const std::string& path);
// The learning rate at `step`: linear warmup, then cosine decay to min_lr.
double LearningRate(const TrainConfig& c, int64_t step);
std::string TrainConfigToJson(const TrainConfig& c);
absl::StatusOr<TrainConfig> TrainConfigFromJson(const std::string& json);

}  // namespace sdft

#endif  // SDFT_TRAINING_TRAIN_CONFIG_H_
