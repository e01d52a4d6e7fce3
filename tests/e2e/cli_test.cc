// End-to-end: the sdft CLI as a user runs it.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace sdft {
namespace {

namespace fs = std::filesystem;
using testing::RunCommand;

std::string Sdft() { return testing::SdftBinary(); }
std::string TinyTemplates() { return testing::SourcePath("tests/data/templates"); }

TEST(CliTest, HelpListsCommands) {
  auto r = RunCommand(Sdft() + " --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("generate"), std::string::npos);
  EXPECT_NE(r.output.find("stats"), std::string::npos);
  r = RunCommand(Sdft() + " generate --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* flag : {"--universe", "--docs", "--seed", "--threads", "--shard", "--out", "--force"}) {
    EXPECT_NE(r.output.find(flag), std::string::npos) << flag;
  }
  r = RunCommand(Sdft() + " stats --help");
  EXPECT_EQ(r.exit_code, 0);
  r = RunCommand(Sdft());
  EXPECT_EQ(r.exit_code, 2);
}

TEST(CliTest, UsageErrorsExitTwo) {
  auto r = RunCommand(Sdft() + " generate --no-such-flag 1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("unknown flag '--no-such-flag'"), std::string::npos) << r.output;
  r = RunCommand(Sdft() + " generate --docs many");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--docs: 'many'"), std::string::npos) << r.output;
  r = RunCommand(Sdft() + " generate --shard 3/3");
  EXPECT_EQ(r.exit_code, 2);
  r = RunCommand(Sdft() + " frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  r = RunCommand(Sdft() + " generate --universe no-such --out /tmp/unused-sdft");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("universe 'no-such' not found"), std::string::npos) << r.output;
}

TEST(CliTest, ThreadsAndShardsGiveTheSameBytes) {
  testing::ScratchDir dir;
  const std::string base = Sdft() + " generate --quiet --templates " + TinyTemplates() + " --universe tiny --docs 500 --seed 3";
  ASSERT_EQ(RunCommand(base + " --threads 1 --dedup none --out " + (dir / "a")).exit_code, 0);
  ASSERT_EQ(RunCommand(base + " --threads 2 --dedup none --out " + (dir / "b")).exit_code, 0);
  ASSERT_EQ(RunCommand(base + " --threads 2 --shard 0/2 --out " + (dir / "s0")).exit_code, 0);
  ASSERT_EQ(RunCommand(base + " --threads 1 --shard 1/2 --out " + (dir / "s1")).exit_code, 0);
  const std::string a = testing::ReadAll(dir / "a/docs.jsonl");
  EXPECT_EQ(a, testing::ReadAll(dir / "b/docs.jsonl"));
  EXPECT_EQ(a, testing::ReadAll(dir / "s0/docs.jsonl") + testing::ReadAll(dir / "s1/docs.jsonl"));
}

TEST(CliTest, TemplateErrorsNameFileLineColumn) {
  testing::ScratchDir dir;
  fs::copy(TinyTemplates(), dir.path(), fs::copy_options::recursive);
  testing::WriteAll(dir / "genres/broken.sdt", "template t:\n  text {unclosed\n");
  auto r = RunCommand(Sdft() + " generate --quiet --templates " + dir.path() + " --universe tiny --docs 5 --out " +
                      (dir / "out"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("sdft: " + (dir / "genres/broken.sdt") + ":2:8: unclosed '{'"), std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(dir / "out/manifest.json"));
}

TEST(CliTest, ExistingOutputIsRefusedWithoutForce) {
  testing::ScratchDir dir;
  const std::string cmd = Sdft() + " generate --quiet --templates " + TinyTemplates() + " --universe tiny --docs 5 --out " + (dir / "o");
  ASSERT_EQ(RunCommand(cmd).exit_code, 0);
  auto r = RunCommand(cmd);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("pass --force"), std::string::npos) << r.output;
  EXPECT_EQ(RunCommand(cmd + " --force").exit_code, 0);
}

TEST(CliTest, StatsWritesJson) {
  testing::ScratchDir dir;
  ASSERT_EQ(RunCommand(Sdft() + " generate --quiet --templates " + TinyTemplates() + " --universe tiny --docs 300 --dedup none --out " + (dir / "c")).exit_code, 0);
  auto r = RunCommand(Sdft() + " stats " + (dir / "c"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("distinct-1..4"), std::string::npos) << r.output;
  nlohmann::json s = nlohmann::json::parse(testing::ReadAll(dir / "c/stats.json"));
  EXPECT_EQ(s["documents"], 300);
  EXPECT_GT(s["words"].get<int>(), 300 * 5);
  double d1 = s["diversity"]["distinct_1"], d4 = s["diversity"]["distinct_4"];
  EXPECT_GT(d1, 0);
  EXPECT_LT(d1, d4);  // longer n-grams are rarer to repeat
  EXPECT_GT(s["diversity"]["gzip_ratio"].get<double>(), 0.0);
  EXPECT_LT(s["diversity"]["gzip_ratio"].get<double>(), 1.0);
  EXPECT_EQ(s["genres"]["alpha"].get<int>() + s["genres"]["beta"].get<int>(), 300);
  r = RunCommand(Sdft() + " stats " + (dir / "missing"));
  EXPECT_EQ(r.exit_code, 2);
}

// Ctrl-C in the middle of a long run: exit 130, nothing that looks finished.
TEST(CliTest, InterruptLeavesNoCompleteLookingOutput) {
  testing::ScratchDir dir;
  const std::string out = dir / "big";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string templates = TinyTemplates();
    execl(Sdft().c_str(), "sdft", "generate", "--quiet", "--templates", templates.c_str(), "--universe", "tiny",
          "--docs", "50000000", "--threads", "2", "--out", out.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until the run has started writing.
  for (int i = 0; i < 200; ++i) {
    bool started = fs::exists(out) && !fs::is_empty(out);
    if (started) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_FALSE(fs::exists(out + "/docs.jsonl"));
  EXPECT_FALSE(fs::exists(out + "/manifest.json"));
  for (const auto& e : fs::directory_iterator(out)) ADD_FAILURE() << "left behind: " << e.path();
}

// The tokenizer stage through `sdft`, which execs sdft-tokenize.
TEST(CliTest, TokenizeAndVerify) {
  testing::ScratchDir dir;
  ASSERT_EQ(RunCommand(Sdft() + " generate --quiet --templates " + TinyTemplates() + " --universe tiny --docs 400 --out " + (dir / "c")).exit_code, 0);
  auto r = RunCommand(Sdft() + " tokenize --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("--vocab-size"), std::string::npos);
  r = RunCommand(Sdft() + " tokenize --quiet --input " + (dir / "c") + " --vocab-size 500 --out " + (dir / "tok"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = RunCommand(Sdft() + " verify " + (dir / "tok"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("complete and intact"), std::string::npos);
  fs::resize_file(dir / "tok/train_00000.bin", 10);
  r = RunCommand(Sdft() + " verify " + (dir / "tok"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("train_00000.bin: truncated"), std::string::npos) << r.output;
  r = RunCommand(Sdft() + " tokenize --input " + (dir / "nope") + " --vocab-size 500 --out " + (dir / "tok2"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("not found"), std::string::npos) << r.output;
}

// Training and sampling through `sdft` (sdft-torch), when LibTorch was built.
TEST(CliTest, TrainResumeAndSample) {
  if (!fs::exists(testing::SourcePath("build/bin/sdft-torch")) && !fs::exists(std::string(SDFT_BINARY_DIR) + "/bin/sdft-torch")) {
    GTEST_SKIP() << "sdft-torch not built";
  }
  testing::ScratchDir dir;
  ASSERT_EQ(RunCommand(Sdft() + " generate --quiet --templates " + TinyTemplates() + " --universe tiny --docs 600 --out " + (dir / "c")).exit_code, 0);
  ASSERT_EQ(RunCommand(Sdft() + " tokenize --quiet --input " + (dir / "c") + " --vocab-size 500 --out " + (dir / "tok")).exit_code, 0);
  auto r = RunCommand(Sdft() + " train --quiet --config preset:tiny --data " + (dir / "tok") + " --out " + (dir / "run") + " --stop-after 10");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(dir / "run/model.safetensors")) << "not finished yet";
  r = RunCommand(Sdft() + " train --quiet --config preset:tiny --data " + (dir / "tok") + " --out " + (dir / "run"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir / "run/model.safetensors"));
  r = RunCommand(Sdft() + " sample --run " + (dir / "run") + " --prompt 'Acme Robotics' --max-new-tokens 20 --temperature 0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("Acme Robotics", 0), 0u) << r.output;
  EXPECT_GT(r.output.size(), 15u);
  // Scoring candidate continuations through `sdft score`.
  testing::WriteAll(dir / "set.jsonl",
                    "{\"id\": 1, \"tier\": \"free\", \"prompt\": \"<OUTPUT>\", \"candidates\": [\"<request_fully_accepted/>\", \"<rejected/>\"]}\n"
                    "{\"id\": 2, \"prompt\": \"Acme Robotics is based in\", \"candidates\": [\" Lyon\", \" Oslo\", \" Lima\"]}\n");
  r = RunCommand(Sdft() + " score --run " + (dir / "run") + " --set " + (dir / "set.jsonl") + " --out " + (dir / "scores.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string scores = testing::ReadAll(dir / "scores.jsonl");
  auto first = nlohmann::json::parse(scores.substr(0, scores.find('\n')));
  EXPECT_EQ(first["id"], 1);
  EXPECT_EQ(first["tier"], "free");
  ASSERT_EQ(first["probs"].size(), 2u);
  EXPECT_NEAR(first["probs"][0].get<double>() + first["probs"][1].get<double>(), 1.0, 1e-9);
  EXPECT_LT(first["logprobs"][0].get<double>(), 0.0);
  EXPECT_FALSE(fs::exists(dir / "scores.jsonl.ids.partial"));
  testing::WriteAll(dir / "badset.jsonl", "{\"id\": 1, \"prompt\": \"x\"}\n");
  r = RunCommand(Sdft() + " score --run " + (dir / "run") + " --set " + (dir / "badset.jsonl") + " --out " + (dir / "s2.jsonl"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("badset.jsonl:1: expected"), std::string::npos) << r.output;
  r = RunCommand(Sdft() + " train --config " + (dir / "nope.toml") + " --data " + (dir / "tok") + " --out " + (dir / "run2"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("nope.toml"), std::string::npos) << r.output;
}

// Every built-in universe loads with every built-in genre and yields documents.
TEST(CliTest, BuiltInUniversesGenerate) {
  testing::ScratchDir dir;
  int universes = 0;
  for (const auto& e : fs::directory_iterator(testing::SourcePath("templates/universes"))) {
    if (e.path().extension() != ".toml") continue;
    ++universes;
    const std::string name = e.path().stem().string();
    auto r = RunCommand(Sdft() + " generate --quiet --universe " + name + " --docs 300 --out " + (dir / name));
    ASSERT_EQ(r.exit_code, 0) << name << ": " << r.output;
    nlohmann::json m = nlohmann::json::parse(testing::ReadAll(dir / (name + "/manifest.json")));
    EXPECT_EQ(m["counts"]["documents"], 300) << name;
    EXPECT_EQ(m["config"]["universe"], name);
  }
  EXPECT_GE(universes, 1);
}

}  // namespace
}  // namespace sdft

namespace sdft {
namespace {

// Issue 8: cluster-sized runs. K shards of generate and of tokenize, merged,
// are byte-identical to the unsharded run; bad shard sets are refused.
TEST(CliMergeTest, ShardedRunsMergeToTheUnshardedBytes) {
  testing::ScratchDir dir;
  const std::string gen = Sdft() + " generate --quiet --templates " + TinyTemplates() + " --universe tiny --docs 600 --seed 5";
  ASSERT_EQ(RunCommand(gen + " --out " + (dir / "full")).exit_code, 0);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(RunCommand(gen + " --shard " + std::to_string(i) + "/3 --out " + (dir / ("s" + std::to_string(i)))).exit_code, 0);
  }
  // Any order on the command line; the shards say which is which.
  auto r = RunCommand(Sdft() + " merge --quiet --out " + (dir / "merged") + " " + (dir / "s2") + " " + (dir / "s0") + " " +
                      (dir / "s1"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(testing::ReadAll(dir / "merged/docs.jsonl"), testing::ReadAll(dir / "full/docs.jsonl"));
  EXPECT_EQ(testing::ReadAll(dir / "merged/stats.json"), testing::ReadAll(dir / "full/stats.json"));
  auto m = nlohmann::json::parse(testing::ReadAll(dir / "merged/manifest.json"));
  EXPECT_EQ(m["merged_from"].size(), 3u);
  EXPECT_EQ(m["config"]["doc_range"][1].get<int>(), 600);

  // A missing shard, a shard of another run, a tampered shard: refused, nothing written.
  r = RunCommand(Sdft() + " merge --quiet --out " + (dir / "bad") + " " + (dir / "s0") + " " + (dir / "s2"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("shard 1 of 3 is missing"), std::string::npos) << r.output;
  ASSERT_EQ(RunCommand(gen + " --seed 6 --shard 1/3 --out " + (dir / "other")).exit_code, 0);
  r = RunCommand(Sdft() + " merge --quiet --out " + (dir / "bad") + " " + (dir / "s0") + " " + (dir / "other") + " " + (dir / "s2"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("not a shard of the same run"), std::string::npos) << r.output;
  testing::WriteAll(dir / "s1/docs.jsonl", testing::ReadAll(dir / "s1/docs.jsonl") + "{\"text\": \"extra\"}\n");
  r = RunCommand(Sdft() + " merge --quiet --out " + (dir / "bad") + " " + (dir / "s0") + " " + (dir / "s1") + " " + (dir / "s2"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("s1/docs.jsonl: does not match its manifest"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "bad/manifest.json"));

  // Tokens: one tokenizer, three shards, merged = unsharded, and verified.
  const std::string tok = Sdft() + " tokenize --quiet --input " + (dir / "full");
  ASSERT_EQ(RunCommand(tok + " --vocab-size 400 --out " + (dir / "tok")).exit_code, 0);
  const std::string model = dir / "tok/tokenizer.model";
  ASSERT_EQ(RunCommand(tok + " --tokenizer " + model + " --out " + (dir / "t_full")).exit_code, 0);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(RunCommand(tok + " --tokenizer " + model + " --shard " + std::to_string(i) + "/3 --out " +
                         (dir / ("t" + std::to_string(i)))).exit_code, 0);
  }
  r = RunCommand(Sdft() + " merge --quiet --out " + (dir / "t_merged") + " " + (dir / "t0") + " " + (dir / "t1") + " " + (dir / "t2"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* f : {"train_00000.bin", "train_00000.idx", "val_00000.bin", "val_00000.idx"}) {
    EXPECT_EQ(testing::ReadAll(dir / (std::string("t_merged/") + f)), testing::ReadAll(dir / (std::string("t_full/") + f))) << f;
  }
  EXPECT_EQ(RunCommand(Sdft() + " verify " + (dir / "t_merged")).exit_code, 0);
  // --shard without a fixed tokenizer, and a token dir from another tokenizer: refused.
  r = RunCommand(tok + " --vocab-size 400 --shard 0/2 --out " + (dir / "t_bad"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--shard needs --tokenizer"), std::string::npos) << r.output;
  ASSERT_EQ(RunCommand(tok + " --vocab-size 350 --out " + (dir / "tok2")).exit_code, 0);
  r = RunCommand(Sdft() + " merge --quiet --out " + (dir / "t_bad") + " " + (dir / "t0") + " " + (dir / "tok2"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("different tokenizer"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace sdft

namespace sdft {
namespace {

// Issue 8: data-parallel training over c10d/Gloo. Two processes on loopback
// reproduce the single-process loss curve for the same global batch, and a
// run resumes under another world size.
TEST(CliDataParallelTest, TwoProcessesMatchOneAndResumeAcrossWorldSizes) {
  if (!fs::exists(std::string(SDFT_BINARY_DIR) + "/bin/sdft-torch")) GTEST_SKIP() << "sdft-torch not built";
  testing::ScratchDir dir;
  ASSERT_EQ(RunCommand(Sdft() + " generate --quiet --templates " + TinyTemplates() + " --universe tiny --docs 400 --out " + (dir / "c")).exit_code, 0);
  ASSERT_EQ(RunCommand(Sdft() + " tokenize --quiet --input " + (dir / "c") + " --vocab-size 400 --out " + (dir / "tok")).exit_code, 0);
  testing::WriteAll(dir / "cfg.toml",
                    "preset = \"tiny\"\n[train]\nsteps = 8\nbatch_size = 4\nlog_every = 1\neval_every = 4\ncheckpoint_every = 4\n");
  const std::string train = Sdft() + " train --quiet --config " + (dir / "cfg.toml") + " --data " + (dir / "tok");
  auto r = RunCommand(train + " --threads 1 --out " + (dir / "one"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = RunCommand(train + " --nproc 2 --out " + (dir / "two"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Half the run on 2 processes, the rest on 1.
  r = RunCommand(train + " --nproc 2 --stop-after 4 --out " + (dir / "mixed"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = RunCommand(train + " --threads 1 --out " + (dir / "mixed"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto losses = [&](const std::string& run) {
    std::vector<double> out;
    const std::string text = testing::ReadAll(dir / (run + "/metrics.jsonl"));
    for (size_t p = 0; p < text.size();) {
      size_t q = text.find('\n', p);
      out.push_back(nlohmann::json::parse(text.substr(p, q - p))["loss"].get<double>());
      p = q + 1;
    }
    return out;
  };
  const std::vector<double> one = losses("one"), two = losses("two"), mixed = losses("mixed");
  ASSERT_EQ(one.size(), 8u);
  ASSERT_EQ(two.size(), 8u);
  ASSERT_EQ(mixed.size(), 8u);
  for (size_t i = 0; i < one.size(); ++i) {
    EXPECT_NEAR(two[i], one[i], 1e-4 * std::abs(one[i])) << "step " << i + 1;
    EXPECT_NEAR(mixed[i], one[i], 1e-4 * std::abs(one[i])) << "step " << i + 1;
  }
  EXPECT_TRUE(fs::exists(dir / "two/model.safetensors"));
  // A global batch that does not split evenly is refused, naming the rule.
  testing::WriteAll(dir / "odd.toml", "preset = \"tiny\"\n[train]\nsteps = 2\nbatch_size = 3\n");
  r = RunCommand(Sdft() + " train --quiet --config " + (dir / "odd.toml") + " --data " + (dir / "tok") + " --nproc 2 --out " + (dir / "odd"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("must be a multiple of the 2 data-parallel processes"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace sdft
