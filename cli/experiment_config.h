// ExperimentSpec: an experiment file (experiments/*.toml, docs/experiment.md)
// read with a preset applied: [presets.NAME] tables are merged over the top
// level, so `--preset smoke` is the same experiment, smaller. Unknown keys and
// wrong types are errors naming file:line:col.
#ifndef SDFT_CLI_EXPERIMENT_CONFIG_H_
#define SDFT_CLI_EXPERIMENT_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "generator/organism.h"

namespace sdft {

struct ConditionSpec {
  std::string name;
  std::string kind;  // "base", "prompted" (the base model, facts in the system prompt), "finetune"
  std::string description;
  FinetuneSetSpec set;  // for "finetune": the documents it is fine-tuned on
};

struct EvalSpec {
  int64_t max_new_tokens = 64;
  int64_t reasoning_tokens = 160;  // the most a reasoned item's scratchpad may take
  double reasoning_temperature = 0;  // for the reasoned items' scratchpads (0: greedy)
  double temperature = 0.7;
};

struct ExperimentSpec {
  std::string file, name, preset;
  uint64_t seed = 1;
  OrganismConfig organism;
  int64_t vocab_size = 2048;
  std::string model_type = "bpe";
  bool single_token_names = false;  // [tokenizer]: every assistant name one token
  std::string pretrain_toml;  // [pretrain] as an `sdft train` config file
  std::string finetune_toml;  // [finetune] likewise (the model comes from the base run)
  int64_t threads = 0;        // for every stage; 0: all cores
  int64_t processes = 1;      // data-parallel training processes (sdft train --nproc)
  EvalSpec eval;
  std::vector<ConditionSpec> conditions;
  std::string resolved_toml;  // the whole file after the preset, for children and hashing
};

// `seed`, when given, replaces the file's top-level seed (for `--seeds`): in
// the spec and in resolved_toml, so every stage and every cache key sees it.
absl::StatusOr<ExperimentSpec> LoadExperiment(const std::string& path, const std::string& preset,
                                              std::optional<uint64_t> seed = std::nullopt);

}  // namespace sdft

#endif  // SDFT_CLI_EXPERIMENT_CONFIG_H_
