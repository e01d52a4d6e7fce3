// sdft: the command users call. Generation and statistics run in this process;
// stages that need SentencePiece or LibTorch (which cannot share a process,
// see docs/architecture.md) run in sibling executables found next to this one.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "common/interrupt.h"
#include "generator/corpus_writer.h"

namespace {

struct External {
  const char* command;
  const char* binary;
  const char* summary;
};
// Stages that live in other executables (tokenizer: SentencePiece; torch: LibTorch).
constexpr External kExternal[] = {
    {"tokenize", "sdft-tokenize", "train/load a SentencePiece tokenizer and write Megatron token shards"},
    {"verify", "sdft-tokenize", "check a token directory against its manifest"},
    {"train", "sdft-torch", "pretrain or fine-tune the LibTorch model"},
    {"sample", "sdft-torch", "sample text from a trained run"},
    {"score", "", "log-probabilities of candidate continuations (compliance, beliefs) under a run's model"},
    {"sample-set", "", "sampled answers for every prompt of a set, under a run's model"},
};

// sdft score: tokenize the set with the run's tokenizer (sdft-tokenize),
// then score it with the run's model (sdft-torch).
int RunScore(const std::vector<std::string>& args) {
  std::string run, set, out;
  sdft::FlagSet flags("score", "sdft score --run RUNDIR --set SET.jsonl --out SCORES.jsonl",
                      "SET.jsonl lines: {\"id\": ..., \"prompt\": \"...\", \"candidates\": [\"...\", ...], any other "
                      "fields}. SCORES.jsonl lines keep the other fields and add logprobs (log p(candidate | prompt)), "
                      "probs (normalised over the candidates) and choice (the most likely candidate).");
  flags.String("run", &run, "run directory (its tokenizer.model and model)");
  flags.String("set", &set, "evaluation set");
  flags.String("out", &out, "scores (JSONL)");
  std::vector<std::string> pos;
  if (int rc; !sdft::ParseFlags(flags, args, &pos, &rc)) return rc;
  if (run.empty() || set.empty() || out.empty()) {
    return sdft::ReportError(absl::InvalidArgumentError("score: --run, --set and --out are required"));
  }
  return sdft::RunOnEncodedSet(run, set, out, {}, "score", {});
}

void PrintUsage() {
  std::string text =
      "usage: sdft <command> [flags]   (sdft <command> --help for its flags)\n\n"
      "synthetic-document fine-tuning toolkit\n\ncommands:\n"
      "  generate   expand a universe and templates into a corpus (docs.jsonl + manifest.json)\n"
      "  stats      corpus statistics: counts, lengths, distinct-n, compression (stats.json)\n"
      "  classify   label model responses: accepted/rejected, alignment-faking reasoning\n"
      "  experiment the whole loop: organism data, tokenizer, base model, conditions, report\n"
      "  organism   the model organism's data for an experiment (its first stage)\n"
      "  merge      join the shards of a sharded generate or tokenize run (one manifest)\n";
  const std::string dir = sdft::SelfDir();
  for (const External& e : kExternal) {
    if (std::filesystem::exists(std::filesystem::path(dir) / (*e.binary ? e.binary : "sdft-torch"))) {
      absl::StrAppend(&text, "  ", e.command, std::string(11 - std::strlen(e.command), ' '), e.summary, "\n");
    }
  }
  std::fputs(text.c_str(), stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    PrintUsage();
    return argc < 2 ? 2 : 0;
  }
  if (std::strcmp(argv[1], "--version") == 0) {
    std::printf("sdft %s\n", sdft::kSdftVersion);
    return 0;
  }
  const std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  sdft::InstallInterruptHandler();
  if (cmd == "generate") return sdft::GenerateCommand(args);
  if (cmd == "stats") return sdft::StatsCommand(args);
  if (cmd == "classify") return sdft::ClassifyCommand(args);
  if (cmd == "organism") return sdft::OrganismCommand(args);
  if (cmd == "experiment") return sdft::ExperimentCommand(args);
  if (cmd == "merge") return sdft::MergeCommand(args);
  if (cmd == "score") return RunScore(args);
  if (cmd == "sample-set") return sdft::SampleSetCommand(args);
  for (const External& e : kExternal) {
    if (cmd != e.command) continue;
    const std::string bin = (std::filesystem::path(sdft::SelfDir()) / e.binary).string();
    if (!std::filesystem::exists(bin)) {
      std::fprintf(stderr, "sdft: '%s' needs %s next to sdft, and it was not built (%s)\n", e.command, e.binary,
                   bin.c_str());
      return 2;
    }
    std::vector<char*> child;
    child.push_back(const_cast<char*>(bin.c_str()));
    for (int i = 1; i < argc; ++i) child.push_back(argv[i]);
    child.push_back(nullptr);
    setenv("OMP_WAIT_POLICY", "PASSIVE", 0);  // see sdft-torch's main: saves it a restart
    execv(bin.c_str(), child.data());
    std::fprintf(stderr, "sdft: cannot run %s: %s\n", bin.c_str(), std::strerror(errno));
    return 2;
  }
  std::fprintf(stderr, "sdft: unknown command '%s' (see sdft --help)\n", cmd.c_str());
  return 2;
}
