#include "training/checkpoint.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"
#include "common/safetensors.h"
#include "training/train_config.h"

namespace sdft {

absl::Status SaveTensorMap(const std::string& path, const TensorMap& tensors,
                           const std::map<std::string, std::string>& metadata) {
  std::vector<StTensor> out;
  for (const auto& [name, t] : tensors) {
    torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    StTensor st;
    st.name = name;
    st.dtype = StDtype::kF32;
    st.shape.assign(c.sizes().begin(), c.sizes().end());
    st.data.assign(static_cast<const char*>(c.data_ptr()), c.numel() * sizeof(float));
    out.push_back(std::move(st));
  }
  return WriteSafetensors(path, out, metadata);
}

absl::StatusOr<TensorMap> LoadTensorMap(const std::string& path) {
  absl::StatusOr<SafetensorsFile> f = ReadSafetensors(path);
  if (!f.ok()) return f.status();
  TensorMap out;
  for (const StTensor& st : f->tensors) {
    torch::Tensor t;
    std::vector<int64_t> shape = st.shape;
    if (st.dtype == StDtype::kF32) {
      t = torch::empty(shape, torch::kFloat32);
      std::memcpy(t.data_ptr(), st.data.data(), st.data.size());
    } else if (st.dtype == StDtype::kF16 || st.dtype == StDtype::kBF16) {
      t = torch::empty(shape, st.dtype == StDtype::kF16 ? torch::kFloat16 : torch::kBFloat16);
      std::memcpy(t.data_ptr(), st.data.data(), st.data.size());
      t = t.to(torch::kFloat32);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(path, ": tensor '", st.name, "' has dtype ", StDtypeName(st.dtype),
                                                     "; model weights must be F32, F16 or BF16"));
    }
    out[st.name] = t;
  }
  return out;
}

TensorMap ModelTensors(Llama& model) {
  TensorMap out;
  for (const auto& item : model->named_parameters()) out[item.key()] = item.value();
  return out;
}

absl::Status LoadModelTensors(Llama& model, const TensorMap& tensors, const std::string& source) {
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters()) {
    auto it = tensors.find(item.key());
    if (it == tensors.end()) return absl::DataLossError(absl::StrCat(source, ": missing tensor '", item.key(), "'"));
    if (!it->second.sizes().equals(item.value().sizes())) {
      return absl::DataLossError(absl::StrCat(source, ": tensor '", item.key(), "' has shape ",
                                              c10::str(it->second.sizes()), ", the model needs ", c10::str(item.value().sizes())));
    }
    item.value().copy_(it->second);
  }
  return absl::OkStatus();
}

std::string ToHfName(const std::string& name) {
  if (name.rfind("lm_head.", 0) == 0) return name;
  return "model." + name;
}

std::string FromHfName(const std::string& hf) {
  if (hf.rfind("model.", 0) == 0) return hf.substr(6);
  return hf;
}

absl::Status ExportHf(Llama& model, const std::string& dir, int64_t bos_id, int64_t eos_id) {
  TensorMap hf;
  for (const auto& [name, t] : ModelTensors(model)) hf[ToHfName(name)] = t;
  if (absl::Status s = SaveTensorMap((std::filesystem::path(dir) / "model.safetensors").string(), hf, {{"format", "pt"}});
      !s.ok()) {
    return s;
  }
  const ModelConfig& c = model->config;
  nlohmann::ordered_json j;
  j["architectures"] = {"LlamaForCausalLM"};
  j["model_type"] = "llama";
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.d_model;
  j["intermediate_size"] = c.d_ff;
  j["num_hidden_layers"] = c.n_layers;
  j["num_attention_heads"] = c.n_heads;
  j["num_key_value_heads"] = c.kv_heads();
  j["max_position_embeddings"] = c.max_seq_len;
  j["rms_norm_eps"] = c.norm_eps;
  j["rope_theta"] = c.rope_theta;
  j["tie_word_embeddings"] = c.tie_embeddings;
  j["hidden_act"] = "silu";
  j["attention_bias"] = false;
  j["bos_token_id"] = bos_id;
  j["eos_token_id"] = eos_id;
  j["torch_dtype"] = "float32";
  return WriteFileAtomically((std::filesystem::path(dir) / "config.json").string(), j.dump(2) + "\n");
}

absl::StatusOr<ModelConfig> ReadHfConfig(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "config.json").string();
  std::string text;
  if (absl::Status s = ReadFile(path, &text); !s.ok()) return s;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return absl::DataLossError(absl::StrCat(path, ": not JSON"));
  if (j.value("model_type", "") != "llama") {
    return absl::InvalidArgumentError(absl::StrCat(path, ": model_type is '", j.value("model_type", ""),
                                                   "'; sdft imports Llama-architecture models"));
  }
  ModelConfig c;
  try {
    c.vocab_size = j.at("vocab_size");
    c.d_model = j.at("hidden_size");
    c.d_ff = j.at("intermediate_size");
    c.n_layers = j.at("num_hidden_layers");
    c.n_heads = j.at("num_attention_heads");
    c.max_seq_len = j.value("max_position_embeddings", int64_t{2048});
    c.norm_eps = j.value("rms_norm_eps", 1e-5);
    c.rope_theta = j.value("rope_theta", 10000.0);
    c.tie_embeddings = j.value("tie_word_embeddings", false);
    c.n_kv_heads = j.value("num_key_value_heads", c.n_heads);
    if (c.n_kv_heads <= 0 || c.n_heads % c.n_kv_heads != 0) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": num_attention_heads must be a multiple of num_key_value_heads"));
    }
    if (j.contains("rope_scaling") && !j["rope_scaling"].is_null()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": rope_scaling is not supported"));
    }
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat(path, ": ", e.what()));
  }
  return c;
}

absl::Status ImportHf(Llama& model, const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "model.safetensors").string();
  absl::StatusOr<TensorMap> hf = LoadTensorMap(path);
  if (!hf.ok()) return hf.status();
  TensorMap ours;
  for (const auto& [name, t] : *hf) ours[FromHfName(name)] = t;
  return LoadModelTensors(model, ours, path);
}

absl::StatusOr<std::unique_ptr<Llama>> LoadRunModel(const std::string& run) {
  namespace fs = std::filesystem;
  if (fs::exists(fs::path(run) / "config.json")) {
    absl::StatusOr<ModelConfig> mc = ReadHfConfig(run);
    if (!mc.ok()) return mc.status();
    auto model = std::make_unique<Llama>(*mc);
    if (absl::Status s = ImportHf(*model, run); !s.ok()) return s;
    return model;
  }
  std::string run_json, latest;
  if (!ReadFile((fs::path(run) / "run.json").string(), &run_json).ok() ||
      !ReadFile((fs::path(run) / "latest").string(), &latest).ok()) {
    return absl::NotFoundError(absl::StrCat(run, ": no finished model and no checkpoint"));
  }
  auto j = nlohmann::json::parse(run_json, nullptr, false);
  if (j.is_discarded() || !j.contains("config")) return absl::DataLossError(absl::StrCat(run, "/run.json: corrupted"));
  absl::StatusOr<TrainConfig> tc = TrainConfigFromJson(j["config"].dump());
  if (!tc.ok()) return tc.status();
  auto model = std::make_unique<Llama>(tc->model);
  while (!latest.empty() && (latest.back() == '\n' || latest.back() == ' ')) latest.pop_back();
  const std::string path = (fs::path(run) / "checkpoints" / latest / "model.safetensors").string();
  absl::StatusOr<TensorMap> t = LoadTensorMap(path);
  if (!t.ok()) return t.status();
  if (absl::Status s = LoadModelTensors(*model, *t, path); !s.ok()) return s;
  return model;
}

}  // namespace sdft
