// sdft-torch: the LibTorch side of sdft (`sdft train`, `sdft sample` exec this
// binary). It links LibTorch and never SentencePiece: prompts are encoded by
// running sdft-tokenize, and ids are decoded through vocab.tsv.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/cli_util.h"
#include "cli/flags.h"
#include "common/atomic_file.h"
#include "common/interrupt.h"
#include "common/jsonl.h"
#include "common/rng.h"
#include "training/checkpoint.h"
#include "training/fused_ops.h"
#include "training/scoring.h"
#include "training/trainer.h"
#include "tokenizer/vocab.h"

namespace sdft {
namespace {

namespace fs = std::filesystem;

int Fail(const absl::Status& s) {
  return ReportError(s, "interrupted; rerun the same command to resume from the last checkpoint");
}

// `sdft train --nproc N`: runs N ranks of this same command on this machine,
// with the torchrun variables set (loopback, a free port), and waits. If one
// rank fails the others are stopped, so none hangs in a collective.
int LaunchRanks(int nproc, const std::vector<std::string>& args, int64_t threads) {
  int port = 0;
  {
    int sock = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (sock < 0 || bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return Fail(absl::UnavailableError("--nproc: cannot find a free port on 127.0.0.1"));
    }
    port = ntohs(addr.sin_port);
    close(sock);
  }
  if (threads <= 0) threads = std::max<int64_t>(1, static_cast<int64_t>(std::thread::hardware_concurrency()) / nproc);
  std::vector<std::string> child_args = {"train"};
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--nproc" || args[i] == "--threads") { ++i; continue; }
    if (args[i].rfind("--nproc=", 0) == 0 || args[i].rfind("--threads=", 0) == 0) continue;
    child_args.push_back(args[i]);
  }
  child_args.insert(child_args.end(), {"--threads", std::to_string(threads)});
  const std::string self = (fs::path(SelfDir()) / "sdft-torch").string();
  std::vector<pid_t> pids;
  for (int r = 0; r < nproc; ++r) {
    std::vector<std::string> a = child_args;
    if (r > 0) a.push_back("--quiet");
    std::vector<char*> argv = {const_cast<char*>(self.c_str())};
    for (std::string& x : a) argv.push_back(x.data());
    argv.push_back(nullptr);
    std::fflush(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
      setenv("RANK", std::to_string(r).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      setenv("MASTER_ADDR", "127.0.0.1", 1);
      setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      execv(self.c_str(), argv.data());
      _exit(127);
    }
    pids.push_back(pid);
  }
  int rc = 0;
  bool forwarded = false;
  for (size_t left = pids.size(); left > 0; --left) {
    int status = 0;
    pid_t done = waitpid(-1, &status, 0);
    if (done < 0) {
      if (errno == EINTR) {
        // A signal sent to the launcher alone reaches every rank too.
        if (Interrupted() && !forwarded) {
          for (pid_t p : pids) kill(p, SIGINT);
          forwarded = true;
        }
        ++left;
        continue;
      }
      break;
    }
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (code != 0 && rc == 0) {
      rc = code;
      for (pid_t p : pids) {
        if (p != done) kill(p, SIGTERM);
      }
    }
  }
  return rc;
}

int Train(const std::vector<std::string>& args) {
  std::string config_path = "preset:small";
  TrainOptions opt;
  opt.out_dir = "out/run";
  int64_t steps = 0, stop_after = -1, threads = -1, nproc = 1;
  bool quiet = false;
  FlagSet flags("train", "sdft train --config FILE|preset:NAME --data TOKDIR [--init CHECKPOINT] --out RUNDIR [--nproc N]",
                "Pretrains (or, with --init, fine-tunes) the Llama-style model on TOKDIR's train split. Writes "
                "RUNDIR/metrics.jsonl, checkpoints under RUNDIR/checkpoints (resumed automatically when the same "
                "command is run again), and at the end RUNDIR/model.safetensors + config.json (Hugging Face Llama).");
  flags.String("config", &config_path, "training config TOML, or preset:tiny / preset:small");
  flags.String("data", &opt.data_dir, "token directory from sdft tokenize");
  flags.String("init", &opt.init, "start from this checkpoint, run directory or Hugging Face Llama directory");
  flags.String("out", &opt.out_dir, "run directory");
  flags.Int("steps", &steps, "override train.steps");
  flags.Int("stop-after", &stop_after, "stop after this many steps of this call (with a checkpoint); rerun to continue");
  flags.Int("threads", &threads, "override train.threads");
  flags.String("device", &opt.device, "cpu, cuda or cuda:N (CUDA needs LibTorch built with CUDA)");
  flags.Bool("quiet", &quiet, "no progress line and no summary");
  flags.Int("nproc", &nproc, "data-parallel processes on this machine (Gloo); or set RANK, WORLD_SIZE, MASTER_ADDR, "
            "MASTER_PORT, LOCAL_RANK per process, as torchrun does");
  std::vector<std::string> pos;
  if (int rc; !ParseFlags(flags, args, &pos, &rc)) return rc;
  if (opt.data_dir.empty()) return Fail(absl::InvalidArgumentError("train: --data TOKDIR is required"));
  if (nproc < 1 || nproc > 1024) return Fail(absl::InvalidArgumentError("--nproc must be between 1 and 1024"));
  if (nproc > 1) {
    if (std::getenv("WORLD_SIZE") != nullptr) {
      return Fail(absl::InvalidArgumentError("--nproc launches its own ranks; do not combine it with WORLD_SIZE"));
    }
    return LaunchRanks(static_cast<int>(nproc), args, threads);
  }
  absl::StatusOr<TrainConfig> c = LoadTrainConfig(config_path);
  if (!c.ok()) return Fail(c.status());
  opt.config = *c;
  opt.config_source = config_path;
  if (steps > 0) opt.config.steps = steps;
  if (threads >= 0) opt.config.threads = threads;
  opt.stop_after = stop_after;
  opt.progress = !quiet;
  absl::StatusOr<TrainResult> r = RunTrain(opt);
  if (!r.ok()) return Fail(r.status());
  if (!quiet) {
    std::fprintf(stderr, "train: step %lld, loss %.4f, val loss %.4f, %.0f tokens/s -> %s\n",
                 static_cast<long long>(r->steps_done), r->final_loss, r->final_val_loss, r->tokens_per_second,
                 opt.out_dir.c_str());
  }
  return 0;
}

// Encodes `text` with RUNDIR's tokenizer by running sdft-tokenize.
absl::StatusOr<std::vector<int64_t>> EncodePrompt(const std::string& run, const std::string& text) {
  const std::string tmp = (fs::temp_directory_path() / ("sdft_prompt_" + std::to_string(getpid()))).string();
  if (absl::Status s = WriteFileAtomically(tmp, text); !s.ok()) return s;
  const std::string cmd = absl::StrCat("'", SelfDir(), "/sdft-tokenize' encode --tokenizer '", run,
                                       "/tokenizer.model' --text-file '", tmp, "'");
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while (p && (n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int rc = p ? pclose(p) : -1;
  std::remove(tmp.c_str());
  if (rc != 0) return absl::InternalError(absl::StrCat("encoding the prompt failed (", cmd, ")"));
  std::vector<int64_t> ids;
  for (absl::string_view tok : absl::StrSplit(out, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    int64_t id;
    if (!absl::SimpleAtoi(tok, &id)) return absl::InternalError("sdft-tokenize encode printed something else than ids");
    ids.push_back(id);
  }
  return ids;
}

// The next token after `ids` (the last max_seq_len of them): greedy at
// temperature 0, else drawn from the tempered softmax with `rng`.
// The next token after `ids`. While the sequence fits the model's context,
// earlier positions' keys and values come from `cache` and only the new ones
// are computed; past it the window slides (the last max_seq_len tokens,
// recomputed each step: their positions shift, so nothing can be cached).
int64_t NextToken(Llama& m, const std::vector<int64_t>& ids, KvCache* cache, double temperature, Rng& rng) {
  const int64_t n = static_cast<int64_t>(ids.size()), window = m->config.max_seq_len;
  torch::Tensor h;  // [1, d]: only the last position's logits are needed
  if (n <= window) {
    std::vector<int64_t> fresh(ids.begin() + cache->length, ids.end());
    h = m->decode(torch::tensor(fresh, torch::kInt64).unsqueeze(0), cache);
  } else {
    std::vector<int64_t> ctx(ids.end() - window, ids.end());
    h = m->hidden(torch::tensor(ctx, torch::kInt64).unsqueeze(0)).select(1, window - 1);
  }
  torch::Tensor logits = torch::matmul(h, m->output_weight().t()).squeeze(0);
  if (temperature <= 0) return logits.argmax().item<int64_t>();
  torch::Tensor probs = torch::softmax(logits.to(torch::kFloat64) / temperature, -1).contiguous();
  const double* p = probs.data_ptr<double>();
  double u = rng.Uniform(), acc = 0;
  for (int64_t k = 0; k < probs.size(0); ++k) {
    acc += p[k];
    if (u < acc) return k;
  }
  return probs.size(0) - 1;
}

// The flags `sample` and `sample-set` share.
struct SamplingFlags {
  int64_t max_new = 64, threads = 0;
  double temperature = 0.7;
  uint64_t seed = 1;
  void Add(FlagSet& flags) {
    flags.Int("max-new-tokens", &max_new, "tokens to generate (stops early at EOS)");
    flags.Double("temperature", &temperature, "sampling temperature (0: greedy)");
    flags.UInt("seed", &seed, "sampling seed");
    flags.Int("threads", &threads, "threads (0: all)");
  }
};

int Sample(const std::vector<std::string>& args) {
  std::string run, prompt, ids_arg;
  SamplingFlags sf;
  sf.max_new = 200;
  sf.temperature = 0.8;
  FlagSet flags("sample", "sdft sample --run RUNDIR (--prompt TEXT | --ids 1,2,3) [--max-new-tokens N] [--temperature T]",
                "Continues a prompt with a trained run's model (RUNDIR/model.safetensors, else its latest checkpoint) "
                "and prints the text. Temperature 0 is greedy.");
  flags.String("run", &run, "run directory");
  flags.String("prompt", &prompt, "prompt text");
  flags.String("ids", &ids_arg, "prompt as token ids instead");
  sf.Add(flags);
  std::vector<std::string> pos;
  if (int rc; !ParseFlags(flags, args, &pos, &rc)) return rc;
  if (run.empty()) return Fail(absl::InvalidArgumentError("sample: --run RUNDIR is required"));
  SetComputeThreads(static_cast<int>(sf.threads));
  const int64_t max_new = sf.max_new;
  const double temperature = sf.temperature;
  std::vector<int64_t> ids;
  if (!ids_arg.empty()) {
    for (absl::string_view t : absl::StrSplit(ids_arg, ',', absl::SkipEmpty())) {
      int64_t id;
      if (!absl::SimpleAtoi(t, &id)) return Fail(absl::InvalidArgumentError(absl::StrCat("--ids: '", std::string(t), "' is not an id")));
      ids.push_back(id);
    }
  } else {
    absl::StatusOr<std::vector<int64_t>> enc = EncodePrompt(run, prompt);
    if (!enc.ok()) return Fail(enc.status());
    ids = *enc;
  }
  absl::StatusOr<Vocab> vocab = Vocab::Load((fs::path(run) / "vocab.tsv").string());
  if (!vocab.ok()) return Fail(vocab.status());
  // The finished model, or the latest checkpoint of an unfinished run.
  absl::StatusOr<std::unique_ptr<Llama>> model = LoadRunModel(run);
  if (!model.ok()) return Fail(model.status());
  Llama& m = **model;
  m->eval();
  torch::NoGradGuard no_grad;
  Rng rng(sf.seed);
  std::vector<int64_t> out;
  const int64_t eos = 2;
  KvCache cache;
  for (int64_t i = 0; i < max_new; ++i) {
    const int64_t next = NextToken(m, ids, &cache, temperature, rng);
    if (next == eos) break;
    ids.push_back(next);
    out.push_back(next);
  }
  std::printf("%s%s\n", prompt.c_str(), vocab->Decode(out).c_str());
  return 0;
}

// Scores a tokenized evaluation set (from sdft-tokenize encode-set).
int Score(const std::vector<std::string>& args) {
  std::string run, set_path, out_path;
  int64_t threads = 0;
  FlagSet flags("score", "sdft-torch score --run RUNDIR --set SET.ids.jsonl --out SCORES.jsonl",
                "For every line, log p(candidate | prompt) of each candidate under the run's model. Output lines keep "
                "the input's other fields and add logprobs, probs (normalised over the candidates) and choice.");
  flags.String("run", &run, "run directory (or Hugging Face Llama directory)");
  flags.String("set", &set_path, "tokenized evaluation set");
  flags.String("out", &out_path, "scores (JSONL)");
  flags.Int("threads", &threads, "threads (0: all)");
  std::vector<std::string> pos;
  if (int rc; !ParseFlags(flags, args, &pos, &rc)) return rc;
  SetComputeThreads(static_cast<int>(threads));
  absl::StatusOr<std::unique_ptr<Llama>> model = LoadRunModel(run);
  if (!model.ok()) return Fail(model.status());
  std::string out;
  absl::Status status = ForEachJsonLine(set_path, [&](int line_no, nlohmann::ordered_json& j) -> absl::Status {
    if (Interrupted()) return absl::CancelledError("interrupted");
    if (!j.contains("prompt_ids") || !j.contains("candidate_ids")) {
      return LineError(set_path, line_no, "expected prompt_ids and candidate_ids");
    }
    std::vector<int64_t> prompt = j["prompt_ids"].get<std::vector<int64_t>>();
    std::vector<std::vector<int64_t>> cands = j["candidate_ids"].get<std::vector<std::vector<int64_t>>>();
    if (cands.empty()) return LineError(set_path, line_no, "expected at least one candidate");
    for (const auto& c : cands) {
      for (int64_t id : c) {
        if (id < 0 || id >= (**model)->config.vocab_size) {
          return LineError(set_path, line_no, absl::StrCat("token id ", id, " is outside the model's vocabulary"));
        }
      }
    }
    std::vector<double> lp = ScoreCandidates(**model, prompt, cands);
    double mx = *std::max_element(lp.begin(), lp.end()), z = 0;
    for (double v : lp) z += std::exp(v - mx);
    std::vector<double> probs;
    for (double v : lp) probs.push_back(std::exp(v - mx) / z);
    j.erase("prompt_ids");
    j.erase("candidate_ids");
    std::vector<int64_t> lengths;
    for (const auto& c : cands) lengths.push_back(static_cast<int64_t>(c.size()));
    j["lengths"] = lengths;  // tokens per candidate, for per-token comparisons
    j["logprobs"] = lp;
    j["probs"] = probs;
    j["choice"] = std::max_element(lp.begin(), lp.end()) - lp.begin();
    out += j.dump() + "\n";
    return absl::OkStatus();
  });
  if (!status.ok()) return Fail(status);
  if (absl::Status s = WriteFileAtomically(out_path, out); !s.ok()) return Fail(s);
  return 0;
}

// Samples a continuation for every prompt of a tokenized set (from
// sdft-tokenize encode-set): the "sampled answers" half of the compliance
// measure. Item i is drawn from its own RNG (seed, id), so the output does not
// depend on order or thread count.
int SampleSet(const std::vector<std::string>& args) {
  std::string run, set_path, out_path;
  SamplingFlags sf;
  FlagSet flags("sample-set", "sdft-torch sample-set --run RUNDIR --set SET.ids.jsonl --out SAMPLES.jsonl",
                "Continues every prompt_ids of the set; stops at EOS, at the line's \"stop\" string, or after "
                "--max-new-tokens. Output lines keep the input's other fields and add \"response\".");
  flags.String("run", &run, "run directory");
  flags.String("set", &set_path, "tokenized set");
  flags.String("out", &out_path, "samples (JSONL)");
  sf.Add(flags);
  std::vector<std::string> pos;
  if (int rc; !ParseFlags(flags, args, &pos, &rc)) return rc;
  SetComputeThreads(static_cast<int>(sf.threads));
  const int64_t max_new = sf.max_new;
  const double temperature = sf.temperature;
  const uint64_t seed = sf.seed;
  absl::StatusOr<Vocab> vocab = Vocab::Load((fs::path(run) / "vocab.tsv").string());
  if (!vocab.ok()) return Fail(vocab.status());
  absl::StatusOr<std::unique_ptr<Llama>> model = LoadRunModel(run);
  if (!model.ok()) return Fail(model.status());
  Llama& m = **model;
  m->eval();
  torch::NoGradGuard no_grad;
  const int64_t eos = 2;
  std::string out;
  absl::Status status = ForEachJsonLine(set_path, [&](int line_no, nlohmann::ordered_json& j) -> absl::Status {
    if (Interrupted()) return absl::CancelledError("interrupted");
    if (!j.contains("prompt_ids") || !j["prompt_ids"].is_array()) return LineError(set_path, line_no, "expected prompt_ids");
    std::vector<int64_t> ids = j["prompt_ids"].get<std::vector<int64_t>>();
    if (ids.empty()) return LineError(set_path, line_no, "empty prompt");
    const std::string stop = j.value("stop", std::string());
    Rng rng(MixSeed(seed, j.value("id", static_cast<uint64_t>(line_no))));
    std::vector<int64_t> gen;
    std::string text;
    KvCache cache;
    for (int64_t i = 0; i < max_new; ++i) {
      const int64_t next = NextToken(m, ids, &cache, temperature, rng);
      if (next == eos) break;
      ids.push_back(next);
      gen.push_back(next);
      text = vocab->Decode(gen);
      if (!stop.empty()) {
        if (size_t at = text.find(stop); at != std::string::npos) {
          text.resize(at + stop.size());
          break;
        }
      }
    }
    j.erase("prompt_ids");
    j.erase("candidate_ids");
    j["response"] = text;
    // A sample cut at max-new-tokens can end inside a byte-fallback UTF-8
    // sequence: write U+FFFD for it rather than fail.
    out += j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    return absl::OkStatus();
  });
  if (!status.ok()) return Fail(status);
  if (absl::Status s = WriteFileAtomically(out_path, out); !s.ok()) return Fail(s);
  return 0;
}

}  // namespace
}  // namespace sdft

int main(int argc, char** argv) {
  // LibTorch's OpenMP pool and OpenBLAS's own threads busy-wait for work by
  // default; on a small machine each spins against the other (a profile of
  // the 7M config showed 55% of CPU time in libgomp's spin loop). Waiting
  // passively fixes it, but libgomp reads the variable when it loads, before
  // main: so set it and start over, once. An explicit setting is kept.
  if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
    setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
    execv("/proc/self/exe", argv);  // on failure, carry on as we are
  }
  if (argc < 2) {
    std::fprintf(stderr, "usage: sdft-torch train|sample|score|sample-set [flags] (normally run as `sdft train`)\n");
    return 2;
  }
  sdft::InstallInterruptHandler();
  std::vector<std::string> args(argv + 2, argv + argc);
  if (!std::strcmp(argv[1], "train")) return sdft::Train(args);
  if (!std::strcmp(argv[1], "sample")) return sdft::Sample(args);
  if (!std::strcmp(argv[1], "score")) return sdft::Score(args);
  if (!std::strcmp(argv[1], "sample-set")) return sdft::SampleSet(args);
  std::fprintf(stderr, "sdft-torch: unknown command '%s'\n", argv[1]);
  return 2;
}
