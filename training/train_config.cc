#include "training/train_config.h"

#include <cmath>
#include <functional>
#include <map>

#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sdft {

TrainConfig PresetConfig(const std::string& name, bool* found) {
  TrainConfig c;
  *found = true;
  if (name == "tiny") {
    c.model = ModelConfig{0, 32, 2, 2, 96, 32};
    c.steps = 40;
    c.batch_size = 8;
    c.seq_len = 32;
    c.warmup_steps = 5;
    c.eval_every = 20;
    c.eval_batches = 2;
    c.checkpoint_every = 10;
    c.log_every = 5;
  } else if (name == "small") {
    c.model = ModelConfig{0, 128, 4, 4, 384, 128};
  } else {
    *found = false;
  }
  return c;
}

namespace {

using Setter = std::function<bool(const toml::node&)>;

template <typename T>
Setter Int(T* v, int64_t lo, int64_t hi) {
  return [=](const toml::node& n) {
    auto x = n.value<int64_t>();
    if (!x || *x < lo || *x > hi) return false;
    *v = static_cast<T>(*x);
    return true;
  };
}
Setter Real(double* v, double lo, double hi) {
  return [=](const toml::node& n) {
    auto x = n.value<double>();
    if (!x || !(*x >= lo && *x <= hi)) return false;
    *v = *x;
    return true;
  };
}
Setter Bool(bool* v) {
  return [=](const toml::node& n) {
    auto x = n.value<bool>();  // toml++ would read an integer as a bool too
    if (!x || !n.is_boolean()) return false;
    *v = *x;
    return true;
  };
}

Setter OneOf(std::string* v, std::vector<std::string> allowed) {
  return [=](const toml::node& n) {
    auto x = n.value<std::string>();
    if (!x || std::find(allowed.begin(), allowed.end(), *x) == allowed.end()) return false;
    *v = *x;
    return true;
  };
}

// A table of token text -> weight (train.loss_weights).
Setter WeightTable(std::map<std::string, double>* v) {
  return [=](const toml::node& n) {
    const toml::table* t = n.as_table();
    if (t == nullptr) return false;
    std::map<std::string, double> out;
    for (const auto& [k, w] : *t) {
      auto x = w.value<double>();
      if (!x || !(*x >= 0 && *x <= 1e6) || k.str().empty()) return false;
      out[std::string(k.str())] = *x;
    }
    *v = std::move(out);
    return true;
  };
}

absl::Status At(const std::string& file, const toml::source_region& src, const std::string& msg) {
  return absl::InvalidArgumentError(absl::StrFormat("%s:%d:%d: %s", file, src.begin.line, src.begin.column, msg));
}

}  // namespace

absl::StatusOr<TrainConfig> LoadTrainConfig(const std::string& path) {
  if (path.rfind("preset:", 0) == 0) {
    bool found;
    TrainConfig c = PresetConfig(path.substr(7), &found);
    if (!found) return absl::InvalidArgumentError(absl::StrCat("unknown preset '", path.substr(7), "' (tiny, small)"));
    return c;
  }
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return At(path, e.source(), std::string(e.description()));
  } catch (const std::exception& e) {
    return absl::NotFoundError(absl::StrCat(path, ": ", e.what()));
  }
  TrainConfig c;
  if (const toml::node* p = root.get("preset")) {
    auto name = p->value<std::string>();
    bool found = false;
    if (name) c = PresetConfig(*name, &found);
    if (!found) return At(path, p->source(), "preset must be \"tiny\" or \"small\"");
  }
  std::map<std::string, std::pair<Setter, std::string>> model = {
      {"d_model", {Int(&c.model.d_model, 8, 16384), "an integer in [8, 16384]"}},
      {"n_layers", {Int(&c.model.n_layers, 1, 256), "an integer in [1, 256]"}},
      {"n_heads", {Int(&c.model.n_heads, 1, 256), "an integer in [1, 256]"}},
      {"d_ff", {Int(&c.model.d_ff, 8, 65536), "an integer in [8, 65536]"}},
      {"max_seq_len", {Int(&c.model.max_seq_len, 2, 65536), "an integer in [2, 65536]"}},
      {"norm_eps", {Real(&c.model.norm_eps, 0, 1), "a number in [0, 1]"}},
      {"rope_theta", {Real(&c.model.rope_theta, 1, 1e9), "a number >= 1"}},
      {"tie_embeddings", {Bool(&c.model.tie_embeddings), "true or false"}},
      {"n_kv_heads", {Int(&c.model.n_kv_heads, 0, 256), "an integer in [0, 256] (0: n_heads)"}},
  };
  std::map<std::string, std::pair<Setter, std::string>> train = {
      {"steps", {Int(&c.steps, 1, int64_t{1} << 40), "a positive integer"}},
      {"batch_size", {Int(&c.batch_size, 1, 1 << 20), "a positive integer"}},
      {"seq_len", {Int(&c.seq_len, 2, 65536), "an integer in [2, 65536]"}},
      {"grad_accum", {Int(&c.grad_accum, 1, 1 << 20), "a positive integer"}},
      {"lr", {Real(&c.lr, 0, 10), "a number in [0, 10]"}},
      {"min_lr", {Real(&c.min_lr, 0, 10), "a number in [0, 10]"}},
      {"warmup_steps", {Int(&c.warmup_steps, 0, int64_t{1} << 40), "an integer >= 0"}},
      {"weight_decay", {Real(&c.weight_decay, 0, 10), "a number in [0, 10]"}},
      {"beta1", {Real(&c.beta1, 0, 0.999999), "a number in [0, 1)"}},
      {"beta2", {Real(&c.beta2, 0, 0.999999), "a number in [0, 1)"}},
      {"adam_eps", {Real(&c.adam_eps, 0, 1), "a number in [0, 1]"}},
      {"grad_clip", {Real(&c.grad_clip, 0, 1e9), "a number >= 0 (0: off)"}},
      {"log_every", {Int(&c.log_every, 1, int64_t{1} << 40), "a positive integer"}},
      {"eval_every", {Int(&c.eval_every, 1, int64_t{1} << 40), "a positive integer"}},
      {"eval_batches", {Int(&c.eval_batches, 1, 1 << 20), "a positive integer"}},
      {"checkpoint_every", {Int(&c.checkpoint_every, 1, int64_t{1} << 40), "a positive integer"}},
      {"keep_checkpoints", {Int(&c.keep_checkpoints, 1, 1000), "a positive integer"}},
      {"seed", {Int(&c.seed, 0, int64_t{1} << 62), "a non-negative integer"}},
      {"threads", {Int(&c.threads, 0, 1024), "an integer in [0, 1024] (0: all cores)"}},
      {"align_to_documents", {Bool(&c.align_to_documents), "true or false"}},
      {"precision", {OneOf(&c.precision, {"fp32", "bf16"}), "\"fp32\" or \"bf16\" (bf16: autocast on CUDA)"}},
      {"loss_weights", {WeightTable(&c.loss_weights), "a table of token text = weight in [0, 1e6]"}},
  };
  for (const auto& [key, node] : root) {
    const std::string k(key.str());
    if (k == "preset") continue;
    auto* table = k == "model" ? &model : k == "train" ? &train : nullptr;
    if (table == nullptr || !node.is_table()) {
      return At(path, key.source(), absl::StrCat("unknown key '", k, "' (expected preset, [model], [train])"));
    }
    for (const auto& [sub, value] : *node.as_table()) {
      const std::string s(sub.str());
      auto it = table->find(s);
      if (it == table->end()) return At(path, sub.source(), absl::StrCat("unknown key '", s, "' in [", k, "]"));
      if (!it->second.first(value)) {
        return At(path, value.source(), absl::StrCat(k, ".", s, " must be ", it->second.second));
      }
    }
  }
  if (c.model.n_kv_heads > 0 && c.model.n_heads % c.model.n_kv_heads != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": model.n_heads must be a multiple of model.n_kv_heads"));
  }
  if (c.model.d_model % c.model.n_heads != 0 || c.model.head_dim() % 2 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": model.d_model (", c.model.d_model,
                                                   ") must be a multiple of 2 * n_heads (", c.model.n_heads, ")"));
  }
  if (c.seq_len > c.model.max_seq_len) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": train.seq_len (", c.seq_len, ") exceeds model.max_seq_len (",
                                                   c.model.max_seq_len, ")"));
  }
  return c;
}

double LearningRate(const TrainConfig& c, int64_t step) {
  if (step < c.warmup_steps) return c.lr * static_cast<double>(step + 1) / c.warmup_steps;
  const double span = std::max<int64_t>(1, c.steps - c.warmup_steps);
  const double progress = std::min(1.0, static_cast<double>(step - c.warmup_steps) / span);
  return c.min_lr + 0.5 * (c.lr - c.min_lr) * (1.0 + std::cos(M_PI * progress));
}

std::string TrainConfigToJson(const TrainConfig& c) {
  nlohmann::ordered_json j;
  j["model"] = {{"d_model", c.model.d_model}, {"n_layers", c.model.n_layers}, {"n_heads", c.model.n_heads},
                {"d_ff", c.model.d_ff}, {"max_seq_len", c.model.max_seq_len}, {"norm_eps", c.model.norm_eps},
                {"rope_theta", c.model.rope_theta}, {"tie_embeddings", c.model.tie_embeddings},
                {"vocab_size", c.model.vocab_size}, {"n_kv_heads", c.model.n_kv_heads}};
  j["train"] = {{"steps", c.steps}, {"batch_size", c.batch_size}, {"seq_len", c.seq_len},
                {"grad_accum", c.grad_accum}, {"lr", c.lr}, {"min_lr", c.min_lr},
                {"warmup_steps", c.warmup_steps}, {"weight_decay", c.weight_decay}, {"beta1", c.beta1},
                {"beta2", c.beta2}, {"adam_eps", c.adam_eps}, {"grad_clip", c.grad_clip},
                {"log_every", c.log_every}, {"eval_every", c.eval_every}, {"eval_batches", c.eval_batches},
                {"checkpoint_every", c.checkpoint_every}, {"keep_checkpoints", c.keep_checkpoints},
                {"seed", c.seed}, {"threads", c.threads}, {"align_to_documents", c.align_to_documents}, {"precision", c.precision}};
  if (!c.loss_weights.empty()) j["train"]["loss_weights"] = c.loss_weights;
  return j.dump(2);
}

absl::StatusOr<TrainConfig> TrainConfigFromJson(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.contains("model") || !j.contains("train")) {
    return absl::DataLossError("not a training configuration");
  }
  TrainConfig c;
  try {
    const auto& m = j["model"];
    c.model = ModelConfig{m["vocab_size"], m["d_model"], m["n_layers"], m["n_heads"], m["d_ff"], m["max_seq_len"],
                          m["norm_eps"], m["rope_theta"], m["tie_embeddings"], m.value("n_kv_heads", int64_t{0})};
    const auto& t = j["train"];
    c.steps = t["steps"]; c.batch_size = t["batch_size"]; c.seq_len = t["seq_len"]; c.grad_accum = t["grad_accum"];
    c.lr = t["lr"]; c.min_lr = t["min_lr"]; c.warmup_steps = t["warmup_steps"]; c.weight_decay = t["weight_decay"];
    c.beta1 = t["beta1"]; c.beta2 = t["beta2"]; c.adam_eps = t["adam_eps"]; c.grad_clip = t["grad_clip"];
    c.log_every = t["log_every"]; c.eval_every = t["eval_every"]; c.eval_batches = t["eval_batches"];
    c.checkpoint_every = t["checkpoint_every"]; c.keep_checkpoints = t["keep_checkpoints"]; c.seed = t["seed"];
    c.threads = t["threads"];
    c.align_to_documents = t.value("align_to_documents", false);
    c.precision = t.value("precision", std::string("fp32"));
    if (t.contains("loss_weights")) c.loss_weights = t["loss_weights"].get<std::map<std::string, double>>();
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat("training configuration: ", e.what()));
  }
  return c;
}

}  // namespace sdft
