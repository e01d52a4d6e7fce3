// The LibTorch model and training loop: shapes, causality, learning,
// bit-identical resume, checkpoint corruption, config errors, NaN handling,
// and Hugging Face interop (export/import, and an independent PyTorch forward).
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"
#include "tokenizer/megatron_shard.h"
#include "training/checkpoint.h"
#include "training/model.h"
#include "training/scoring.h"
#include "training/train_config.h"
#include "training/trainer.h"

namespace sdft {
namespace {

namespace fs = std::filesystem;

ModelConfig Tiny(int64_t vocab = 50) { return ModelConfig{vocab, 32, 2, 2, 64, 32}; }

TEST(ModelTest, ShapesAndParameterNames) {
  torch::manual_seed(0);
  Llama m(Tiny());
  InitWeights(m);
  torch::Tensor logits = m->forward(torch::randint(0, 50, {3, 7}, torch::kInt64));
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{3, 7, 50}));
  TensorMap t = ModelTensors(m);
  EXPECT_TRUE(t.count("embed_tokens.weight"));
  EXPECT_TRUE(t.count("layers.1.self_attn.q_proj.weight"));
  EXPECT_TRUE(t.count("layers.0.mlp.down_proj.weight"));
  EXPECT_TRUE(t.count("norm.weight"));
  EXPECT_FALSE(t.count("lm_head.weight")) << "tied embeddings";
  EXPECT_EQ(ToHfName("layers.0.mlp.up_proj.weight"), "model.layers.0.mlp.up_proj.weight");
  EXPECT_EQ(FromHfName("lm_head.weight"), "lm_head.weight");
}

TEST(ModelTest, ATokenNeverSeesTheFuture) {
  torch::manual_seed(1);
  Llama m(Tiny());
  InitWeights(m);
  torch::NoGradGuard ng;
  torch::Tensor a = torch::randint(0, 50, {1, 16}, torch::kInt64);
  torch::Tensor b = a.clone();
  b.index_put_({0, torch::indexing::Slice(9, 16)}, (b.index({0, torch::indexing::Slice(9, 16)}) + 7) % 50);
  torch::Tensor la = m->forward(a), lb = m->forward(b);
  EXPECT_TRUE(torch::allclose(la.narrow(1, 0, 9), lb.narrow(1, 0, 9), 1e-5, 1e-6));
  EXPECT_FALSE(torch::allclose(la.narrow(1, 9, 7), lb.narrow(1, 9, 7), 1e-3, 1e-3));
}

// Decoding with a KV cache (a prompt, then a token at a time) gives every
// position the hidden state of a full forward pass, with grouped-query
// attention too; the cache holds exactly the positions fed.
TEST(ModelTest, KvCacheDecodingMatchesTheFullForward) {
  for (int64_t kv_heads : {0, 1}) {
    torch::manual_seed(3);
    ModelConfig c = Tiny();
    c.n_kv_heads = kv_heads;
    Llama m(c);
    InitWeights(m);
    torch::NoGradGuard ng;
    torch::Tensor tokens = torch::randint(0, 50, {1, 12}, torch::kInt64);
    torch::Tensor full = m->hidden(tokens);  // [1, 12, d]
    KvCache cache;
    torch::Tensor h = m->decode(tokens.narrow(1, 0, 5), &cache);
    EXPECT_TRUE(torch::allclose(h, full.select(1, 4), 1e-4, 1e-5)) << kv_heads;
    for (int64_t t = 5; t < 12; ++t) {
      h = m->decode(tokens.narrow(1, t, 1), &cache);
      EXPECT_TRUE(torch::allclose(h, full.select(1, t), 1e-4, 1e-5)) << "position " << t << ", kv heads " << kv_heads;
    }
    EXPECT_EQ(cache.length, 12);
    EXPECT_EQ(cache.k[0].size(2), 12);
  }
}

TEST(ModelTest, ScoresCandidatesByTheirLogProbability) {
  torch::manual_seed(7);
  Llama m(Tiny());
  InitWeights(m);
  std::vector<int64_t> prompt = {3, 9, 27};
  std::vector<std::vector<int64_t>> cands = {{5}, {6, 7}, {}};
  std::vector<double> got = ScoreCandidates(m, prompt, cands);
  ASSERT_EQ(got.size(), 3u);
  torch::NoGradGuard ng;
  torch::Tensor lp = torch::log_softmax(m->forward(torch::tensor(std::vector<int64_t>{3, 9, 27, 6}).unsqueeze(0)), -1)[0];
  EXPECT_NEAR(got[0], lp[2][5].item<double>(), 1e-5);
  EXPECT_NEAR(got[1], lp[2][6].item<double>() + lp[3][7].item<double>(), 1e-5);
  EXPECT_EQ(got[2], 0.0);
  // A prompt longer than the context is cut from the left, not an error.
  std::vector<int64_t> long_prompt(100, 4);
  EXPECT_TRUE(std::isfinite(ScoreCandidates(m, long_prompt, {{1, 2}})[0]));
}

TEST(ModelTest, OverfitsATinyBatch) {
  torch::manual_seed(2);
  Llama m(Tiny());
  InitWeights(m);
  torch::optim::Adam opt(m->parameters(), torch::optim::AdamOptions(1e-2));
  torch::Tensor batch = torch::randint(0, 50, {2, 17}, torch::kInt64);
  double loss_value = 0;
  for (int i = 0; i < 300; ++i) {
    opt.zero_grad();
    torch::Tensor logits = m->forward(batch.narrow(1, 0, 16));
    torch::Tensor loss = torch::nn::functional::cross_entropy(logits.reshape({-1, 50}), batch.narrow(1, 1, 16).reshape({-1}));
    loss.backward();
    opt.step();
    loss_value = loss.item<double>();
  }
  EXPECT_LT(loss_value, 0.05);
}

// A token directory with random-ish documents, written with the shard writer.
std::string MakeTokenDir(const std::string& dir, int64_t vocab = 64) {
  fs::create_directories(dir);
  nlohmann::json manifest;
  manifest["kind"] = "tokens";
  manifest["tokenizer"] = {{"vocab_size", vocab}, {"special", {{"eos", 2}}}};
  for (const char* split : {"train", "val"}) {
    ShardWriter w;
    EXPECT_TRUE(w.Open(dir + "/" + split + "_00000", TokenDtype::kUint16).ok());
    for (int d = 0; d < 200; ++d) {
      std::vector<int32_t> doc;
      for (int k = 0; k < 20 + d % 13; ++k) doc.push_back(4 + (d * 7 + k * k) % (vocab - 4));
      doc.push_back(2);
      EXPECT_TRUE(w.Add(doc.data(), doc.size()).ok());
    }
    EXPECT_TRUE(w.Finish().ok());
    manifest["splits"][split] = {{"shards", {{{"prefix", std::string(split) + "_00000"}}}}};
  }
  testing::WriteAll(dir + "/manifest.json", manifest.dump());
  return dir;
}

TrainOptions TinyTrain(const std::string& data, const std::string& out) {
  TrainOptions o;
  absl::StatusOr<TrainConfig> c = LoadTrainConfig("preset:tiny");
  EXPECT_TRUE(c.ok());
  o.config = *c;
  o.config.steps = 20;
  o.config.checkpoint_every = 5;
  o.config.threads = 1;
  o.data_dir = data;
  o.out_dir = out;
  o.progress = false;
  return o;
}

TEST(TrainTest, LossFallsAndRunIsComplete) {
  testing::ScratchDir dir;
  const std::string data = MakeTokenDir(dir / "tok");
  TrainOptions o = TinyTrain(data, dir / "run");
  o.config.steps = 60;
  absl::StatusOr<TrainResult> r = RunTrain(o);
  ASSERT_TRUE(r.ok()) << r.status();
  std::string curve;
  for (double l : r->losses) curve += std::to_string(l) + " ";
  EXPECT_LT(r->losses.back(), r->losses.front() - 0.3) << curve;
  for (const char* f : {"model.safetensors", "config.json", "metrics.jsonl", "latest", "run.json"}) {
    EXPECT_TRUE(fs::exists(dir / ("run/" + std::string(f)))) << f;
  }
  std::ifstream metrics(dir / "run/metrics.jsonl");
  std::string line, last;
  bool saw_val = false;
  while (std::getline(metrics, line)) {
    auto j = nlohmann::json::parse(line);
    for (const char* k : {"step", "loss", "lr", "grad_norm", "tokens_per_s"}) EXPECT_TRUE(j.contains(k)) << k;
    saw_val |= j.contains("val_loss");
    last = line;
  }
  EXPECT_TRUE(saw_val);
  EXPECT_EQ(nlohmann::json::parse(last)["step"], 60);
}

// train.loss_weights resolves its keys through the data's vocab.tsv: a run
// with weights trains (and its loss differs), a key that is no token is an error.
TEST(TrainTest, LossWeightsNameTokensOfTheVocabulary) {
  testing::ScratchDir dir;
  const std::string data = MakeTokenDir(dir / "tok");
  TrainOptions o = TinyTrain(data, dir / "nofile");
  o.config.loss_weights = {{"a", 5.0}};
  absl::StatusOr<TrainResult> r = RunTrain(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("train.loss_weights"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("vocab.tsv"), std::string::npos) << r.status();
  // vocab.tsv: one line per id (id, type, escaped piece); pieces t0..t63.
  std::string vocab;
  for (int i = 0; i < 64; ++i) vocab += std::to_string(i) + "\tnormal\tt" + std::to_string(i) + "\n";
  testing::WriteAll(data + "/vocab.tsv", vocab);
  o.config.loss_weights = {{"nope", 5.0}};
  o.out_dir = dir / "bad";
  r = RunTrain(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'nope' is not a single token"), std::string::npos) << r.status();
  EXPECT_FALSE(fs::exists(dir / "bad"));
  TrainOptions plain = TinyTrain(data, dir / "plain");
  plain.config.steps = 5;
  TrainOptions weighted = plain;
  weighted.out_dir = dir / "weighted";
  weighted.config.loss_weights = {{"t2", 10.0}};  // eos ends every document
  absl::StatusOr<TrainResult> a = RunTrain(plain), b = RunTrain(weighted);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_GT(b->losses.front(), a->losses.front() * 1.1);
}

TEST(TrainTest, ResumeIsBitIdentical) {
  testing::ScratchDir dir;
  const std::string data = MakeTokenDir(dir / "tok");
  absl::StatusOr<TrainResult> full = RunTrain(TinyTrain(data, dir / "full"));
  ASSERT_TRUE(full.ok()) << full.status();
  TrainOptions first = TinyTrain(data, dir / "split");
  first.stop_after = 10;
  absl::StatusOr<TrainResult> a = RunTrain(first);
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<TrainResult> b = RunTrain(TinyTrain(data, dir / "split"));  // resumes at step 10
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_EQ(a->losses.size(), 10u);
  ASSERT_EQ(b->losses.size(), 10u);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(a->losses[i], full->losses[i]) << "step " << i;
    EXPECT_EQ(b->losses[i], full->losses[10 + i]) << "step " << 10 + i;
  }
  EXPECT_EQ(testing::ReadAll(dir / "full/model.safetensors"), testing::ReadAll(dir / "split/model.safetensors"));
}

// Fine-tuning starts from the given weights with a fresh optimizer and its
// own schedule, from a run directory or a Hugging Face directory alike.
TEST(TrainTest, InitFromARunOrAHuggingFaceDirectory) {
  testing::ScratchDir dir;
  const std::string data = MakeTokenDir(dir / "tok");
  TrainOptions base = TinyTrain(data, dir / "base");
  base.config.steps = 60;
  absl::StatusOr<TrainResult> pre = RunTrain(base);
  ASSERT_TRUE(pre.ok()) << pre.status();
  absl::StatusOr<TrainResult> fresh = RunTrain(TinyTrain(data, dir / "fresh"));
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  for (const std::string& init : {dir / "base", dir / "base/checkpoints/step_00000060"}) {
    TrainOptions ft = TinyTrain(data, dir / ("ft" + std::to_string(init.size())));
    ft.init = init;
    ft.config.steps = 5;
    absl::StatusOr<TrainResult> r = RunTrain(ft);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_LT(r->losses.front(), fresh->losses.front() - 0.2) << init << ": did not start from the pretrained weights";
    nlohmann::json info = nlohmann::json::parse(testing::ReadAll(ft.out_dir + "/run.json"));
    EXPECT_EQ(info["init"], init);
  }
  // The exported Hugging Face directory (model.safetensors + config.json) works as --init too.
  testing::ScratchDir hf;
  fs::copy_file(dir / "base/model.safetensors", hf / "model.safetensors");
  fs::copy_file(dir / "base/config.json", hf / "config.json");
  TrainOptions ft = TinyTrain(data, dir / "ft_hf");
  ft.init = hf.path();
  ft.config.steps = 5;
  absl::StatusOr<TrainResult> r = RunTrain(ft);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LT(r->losses.front(), fresh->losses.front() - 0.2);
  // A vocabulary that does not match the data is refused.
  nlohmann::json cfg = nlohmann::json::parse(testing::ReadAll(hf / "config.json"));
  cfg["vocab_size"] = 99;
  testing::WriteAll(hf / "config.json", cfg.dump());
  ft.out_dir = dir / "ft_bad";
  r = RunTrain(ft);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("vocabulary of 99"), std::string::npos) << r.status();
}

TEST(TrainTest, CorruptCheckpointIsAClearError) {
  testing::ScratchDir dir;
  const std::string data = MakeTokenDir(dir / "tok");
  TrainOptions o = TinyTrain(data, dir / "run");
  o.stop_after = 5;
  ASSERT_TRUE(RunTrain(o).ok());
  const fs::path model = dir / "run/checkpoints/step_00000005/model.safetensors";
  ASSERT_TRUE(fs::exists(model));
  fs::resize_file(model, fs::file_size(model) - 100);
  absl::StatusOr<TrainResult> r = RunTrain(TinyTrain(data, dir / "run"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("step_00000005/model.safetensors"), std::string::npos) << r.status();
}

TEST(TrainTest, NanLossStopsAndKeepsTheLastGoodCheckpoint) {
  testing::ScratchDir dir;
  const std::string data = MakeTokenDir(dir / "tok");
  TrainOptions o = TinyTrain(data, dir / "run");
  o.config.lr = 1e9;
  o.config.min_lr = 1e9;
  o.config.warmup_steps = 0;
  o.config.grad_clip = 0;
  o.config.weight_decay = 0;
  o.config.checkpoint_every = 1;
  absl::StatusOr<TrainResult> r = RunTrain(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("the loss is"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("last good checkpoint"), std::string::npos) << r.status();
  EXPECT_TRUE(fs::exists(dir / "run/latest"));
}

TEST(TrainConfigTest, ErrorsNameTheirPlace) {
  testing::ScratchDir dir;
  testing::WriteAll(dir / "a.toml", "preset = \"tiny\"\n[train]\nsteps = 10\nbatchsize = 3\n");
  auto c = LoadTrainConfig(dir / "a.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("a.toml:4:1: unknown key 'batchsize' in [train]"), std::string::npos) << c.status();
  testing::WriteAll(dir / "b.toml", "[model]\nd_model = -4\n");
  c = LoadTrainConfig(dir / "b.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("b.toml:2:11: model.d_model must be"), std::string::npos) << c.status();
  testing::WriteAll(dir / "bool.toml", "[train]\nalign_to_documents = 1\n");  // an integer is not a bool
  EXPECT_FALSE(LoadTrainConfig(dir / "bool.toml").ok());
  testing::WriteAll(dir / "c.toml", "[model]\nd_model = 30\nn_heads = 4\n");
  EXPECT_FALSE(LoadTrainConfig(dir / "c.toml").ok());
  EXPECT_FALSE(LoadTrainConfig("preset:huge").ok());
  EXPECT_FALSE(LoadTrainConfig(dir / "missing.toml").ok());
  testing::WriteAll(dir / "ok.toml", "preset = \"small\"\n[train]\nsteps = 7\n");
  c = LoadTrainConfig(dir / "ok.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->steps, 7);
  EXPECT_EQ(c->model.d_model, 128);
  EXPECT_TRUE(c->loss_weights.empty());
}

TEST(TrainConfigTest, LossWeightsParseAndSurviveJson) {
  testing::ScratchDir dir;
  testing::WriteAll(dir / "w.toml", "preset = \"tiny\"\n[train]\nloss_weights = { \"<rejected/>\" = 20.0, \"x\" = 0 }\n");
  auto c = LoadTrainConfig(dir / "w.toml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->loss_weights.size(), 2u);
  EXPECT_EQ(c->loss_weights.at("<rejected/>"), 20.0);
  auto back = TrainConfigFromJson(TrainConfigToJson(*c));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->loss_weights, c->loss_weights);
  testing::WriteAll(dir / "bad.toml", "[train]\nloss_weights = { \"<rejected/>\" = -1 }\n");
  c = LoadTrainConfig(dir / "bad.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("bad.toml:2:16: train.loss_weights must be"), std::string::npos) << c.status();
}

TEST(InteropTest, ExportImportRoundTrip) {
  testing::ScratchDir dir;
  torch::manual_seed(3);
  Llama a(Tiny());
  InitWeights(a);
  ASSERT_TRUE(ExportHf(a, dir.path(), 1, 2).ok());
  absl::StatusOr<ModelConfig> c = ReadHfConfig(dir.path());
  ASSERT_TRUE(c.ok()) << c.status();
  Llama b(*c);
  ASSERT_TRUE(ImportHf(b, dir.path()).ok());
  torch::NoGradGuard ng;
  torch::Tensor x = torch::randint(0, 50, {1, 12}, torch::kInt64);
  EXPECT_TRUE(torch::equal(a->forward(x), b->forward(x)));
  nlohmann::json cfg = nlohmann::json::parse(testing::ReadAll(dir / "config.json"));
  EXPECT_EQ(cfg["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(cfg["hidden_size"], 32);
}

// An independent few-line PyTorch forward (Debian's python3-torch) of the
// exported weights gives the same logits.
TEST(InteropTest, IndependentPyTorchForwardAgrees) {
  if (testing::RunCommand("/usr/bin/python3 -c 'import torch'").exit_code != 0) {
    GTEST_SKIP() << "python3-torch is not installed (scripts/setup.sh installs it)";
  }
  testing::ScratchDir dir;
  torch::manual_seed(4);
  ModelConfig mc = ModelConfig{97, 64, 2, 4, 96, 32};
  mc.tie_embeddings = false;
  mc.n_kv_heads = 2;  // grouped-query attention, as TinyLlama uses
  Llama m(mc);
  InitWeights(m);
  ASSERT_TRUE(ExportHf(m, dir.path(), 1, 2).ok());
  std::vector<int64_t> toks = {5, 17, 3, 96, 42, 42, 0, 8, 61, 33};
  std::string csv;
  for (int64_t t : toks) csv += (csv.empty() ? "" : ",") + std::to_string(t);
  auto r = testing::RunCommand("/usr/bin/python3 " + testing::SourcePath("tests/training/reference_forward.py") + " " +
                               dir.path() + " " + csv + " " + (dir / "logits.bin"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string raw = testing::ReadAll(dir / "logits.bin");
  ASSERT_EQ(raw.size(), toks.size() * 97 * sizeof(float));
  torch::Tensor ref = torch::from_blob(raw.data(), {static_cast<int64_t>(toks.size()), 97}, torch::kFloat32).clone();
  torch::NoGradGuard ng;
  torch::Tensor ours = m->forward(torch::tensor(toks, torch::kInt64).unsqueeze(0)).squeeze(0);
  EXPECT_TRUE(torch::allclose(ours, ref, 1e-4, 1e-5)) << (ours - ref).abs().max().item<float>();
}

}  // namespace
}  // namespace sdft
