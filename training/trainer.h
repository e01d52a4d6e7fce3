// The training loop: pretraining, or fine-tuning from a checkpoint (--init),
// on a token directory. AdamW with weight-decay groups, warmup + cosine
// schedule, gradient clipping and accumulation; metrics.jsonl; atomic
// checkpoints (model, optimizer, step) that resume bit-identically; a NaN or
// inf loss stops the run and keeps the last good checkpoint.
#ifndef SDFT_TRAINING_TRAINER_H_
#define SDFT_TRAINING_TRAINER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "training/train_config.h"

namespace sdft {

struct TrainOptions {
  TrainConfig config;
  std::string config_source;  // for the record
  std::string data_dir;       // TOKDIR
  std::string init;           // checkpoint dir, run dir or Hugging Face dir; empty: random init
  std::string out_dir;        // RUNDIR
  int64_t stop_after = -1;    // stop (with a checkpoint) after this many steps; for tests and time budgets
  std::string device = "cpu";  // "cpu", "cuda", "cuda:N" (CUDA needs a CUDA build of LibTorch)
  bool progress = true;
};

struct TrainResult {
  int64_t steps_done = 0;
  double final_loss = 0, final_val_loss = 0;
  std::vector<double> losses;  // per step run in this call
  double tokens_per_second = 0;
};

absl::StatusOr<TrainResult> RunTrain(const TrainOptions& options);

}  // namespace sdft

#endif  // SDFT_TRAINING_TRAINER_H_
