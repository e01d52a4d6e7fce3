// Model and optimizer state on disk as safetensors (readable from Python),
// and the Hugging Face Llama layout: model.safetensors with
// LlamaForCausalLM tensor names plus config.json, so `transformers` loads an
// exported run and sdft imports such a directory to fine-tune it.
#ifndef SDFT_TRAINING_CHECKPOINT_H_
#define SDFT_TRAINING_CHECKPOINT_H_

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "training/model.h"

namespace sdft {

using TensorMap = std::map<std::string, torch::Tensor>;

absl::Status SaveTensorMap(const std::string& path, const TensorMap& tensors,
                           const std::map<std::string, std::string>& metadata = {});
absl::StatusOr<TensorMap> LoadTensorMap(const std::string& path);

// The model's parameters under their sdft names ("layers.0.self_attn.q_proj.weight").
TensorMap ModelTensors(Llama& model);
// Copies `tensors` into the model; every parameter must be present with its shape.
absl::Status LoadModelTensors(Llama& model, const TensorMap& tensors, const std::string& source);

// sdft name <-> Hugging Face LlamaForCausalLM name.
std::string ToHfName(const std::string& name);
std::string FromHfName(const std::string& hf_name);

// Writes DIR/model.safetensors (HF names) and DIR/config.json.
absl::Status ExportHf(Llama& model, const std::string& dir, int64_t bos_id, int64_t eos_id);
// Reads a Hugging Face Llama directory's config.json into a ModelConfig.
absl::StatusOr<ModelConfig> ReadHfConfig(const std::string& dir);
// Loads DIR/model.safetensors (HF names) into a model built from its config.
absl::Status ImportHf(Llama& model, const std::string& dir);

// The model of a run directory: its finished model (model.safetensors +
// config.json), else its latest checkpoint; or a Hugging Face directory.
absl::StatusOr<std::unique_ptr<Llama>> LoadRunModel(const std::string& run);

}  // namespace sdft

#endif  // SDFT_TRAINING_CHECKPOINT_H_
