// sdft-tokenize: the SentencePiece side of sdft (`sdft tokenize`, `sdft verify`
// exec this binary). It links SentencePiece and never LibTorch.
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/cli_util.h"
#include "cli/flags.h"
#include "common/atomic_file.h"
#include "common/interrupt.h"
#include "common/jsonl.h"
#include "tokenizer/spm_wrapper.h"
#include "tokenizer/merge_tokens.h"
#include "tokenizer/tokenize_run.h"

#include <nlohmann/json.hpp>

namespace sdft {
namespace {

int Fail(const absl::Status& s) { return ReportError(s, "interrupted; no output was finished (rerun to restart)"); }

int Tokenize(const std::vector<std::string>& args) {
  TokenizeOptions opt;
  opt.out_dir = "out/tokens";
  int64_t vocab = 0, threads = std::max(1u, std::thread::hardware_concurrency());
  uint64_t shard_mb = opt.max_shard_bytes >> 20;
  bool quiet = false;
  std::string user_symbols;
  std::vector<std::string> input_args;
  FlagSet flags("tokenize",
                "sdft tokenize --input DIR_OR_JSONL[:WEIGHT] ... (--vocab-size V [--model-type bpe|unigram] "
                "[--user-symbols FILE] | "
                "--tokenizer FILE.model) [--val-fraction F] [--seed S] [--threads T] --out TOKDIR",
                "Trains a SentencePiece tokenizer on the inputs (or loads one) and writes Megatron-LM token "
                "shards (train_NNNNN/val_NNNNN .bin/.idx, one sequence per document with EOS), tokenizer.model, "
                "vocab.tsv and manifest.json to TOKDIR. Weighted inputs are blended and shuffled.");
  flags.Custom("input", "PATH[:W]", [&](const std::string& s) { input_args.push_back(s); return absl::OkStatus(); },
               "a corpus directory or .jsonl file, optionally weighted (repeatable)");
  flags.Int("vocab-size", &vocab, "train a tokenizer with this many pieces");
  flags.String("model-type", &opt.model_type, "bpe or unigram (with --vocab-size)");
  flags.String("tokenizer", &opt.tokenizer_path, "use an existing SentencePiece .model instead of training");
  flags.String("user-symbols", &user_symbols, "with --vocab-size: a file of strings (one a line) to make single tokens");
  flags.UInt("train-sentences", &opt.train_sentences, "at most this many lines are sampled to train the tokenizer");
  flags.Double("val-fraction", &opt.val_fraction, "fraction of documents in the validation split");
  flags.UInt("seed", &opt.seed, "seed of the split, the blend and the shuffle");
  flags.Int("threads", &threads, "encoding threads (output does not depend on it)");
  flags.UInt("shard-mb", &shard_mb, "split .bin files past this many MiB");
  flags.Custom("shard", "I/K",
               [&](const std::string& v) {
                 int i = -1, k = 0;
                 char extra;
                 if (std::sscanf(v.c_str(), "%d/%d%c", &i, &k, &extra) != 2 || i < 0 || k < 1 || i >= k) {
                   return absl::InvalidArgumentError(absl::StrCat("--shard: '", v, "' is not I/K with 0 <= I < K"));
                 }
                 opt.shard_index = i;
                 opt.shard_count = k;
                 return absl::OkStatus();
               },
               "tokenize slice I of K of the documents (needs --tokenizer); `sdft merge` joins the K outputs");
  flags.String("out", &opt.out_dir, "output token directory");
  flags.Bool("force", &opt.force, "replace a finished or foreign output directory");
  flags.Bool("quiet", &quiet, "no progress line and no summary");
  std::vector<std::string> pos;
  if (int rc; !ParseFlags(flags, args, &pos, &rc)) return rc;
  for (const std::string& p : pos) input_args.push_back(p);
  for (const std::string& a : input_args) {
    absl::StatusOr<TokenizeInput> in = ParseTokenizeInput(a);
    if (!in.ok()) return Fail(in.status());
    opt.inputs.push_back(*in);
  }
  if (vocab < 0 || vocab > 1000000) return Fail(absl::InvalidArgumentError("--vocab-size out of range"));
  if (!user_symbols.empty()) {
    if (vocab == 0) return Fail(absl::InvalidArgumentError("--user-symbols needs --vocab-size (it shapes a trained tokenizer)"));
    absl::StatusOr<std::vector<std::string>> u = ReadUserSymbols(user_symbols);
    if (!u.ok()) return Fail(u.status());
    opt.user_symbols = *u;
  }
  if (threads < 1 || threads > 1024) return Fail(absl::InvalidArgumentError("--threads must be between 1 and 1024"));
  if (shard_mb < 1) return Fail(absl::InvalidArgumentError("--shard-mb must be at least 1"));
  opt.vocab_size = static_cast<int>(vocab);
  opt.threads = static_cast<int>(threads);
  opt.max_shard_bytes = shard_mb << 20;
  opt.progress = !quiet;
  absl::StatusOr<TokenizeResult> r = RunTokenize(opt);
  if (!r.ok()) return Fail(r.status());
  if (!quiet) {
    std::fprintf(stderr, "tokenize: %llu documents, %llu tokens (%.1f MB of text) in %.1f s (encoding %.1f s, %.0f tokens/s) -> %s\n",
                 static_cast<unsigned long long>(r->documents), static_cast<unsigned long long>(r->tokens),
                 r->text_bytes / 1e6, r->seconds, r->encode_seconds, r->tokens / std::max(1e-9, r->encode_seconds),
                 opt.out_dir.c_str());
  }
  return 0;
}

int Verify(const std::vector<std::string>& args) {
  FlagSet flags("verify", "sdft verify TOKDIR",
                "Checks every file listed in TOKDIR/manifest.json (presence, size, sha256) and every shard's "
                "index against its data. Exit 0 when all is well; otherwise names each bad file, exit 1.");
  std::vector<std::string> pos;
  if (int rc; !ParseFlags(flags, args, &pos, &rc)) return rc;
  if (pos.size() != 1) return Fail(absl::InvalidArgumentError("verify: give one token directory"));
  absl::StatusOr<std::vector<std::string>> problems = VerifyTokenDir(pos[0]);
  if (!problems.ok()) return Fail(problems.status());
  for (const std::string& p : *problems) std::fprintf(stderr, "verify: %s\n", p.c_str());
  if (!problems->empty()) {
    std::fprintf(stderr, "verify: %zu problem(s) in %s\n", problems->size(), pos[0].c_str());
    return 1;
  }
  std::printf("verify: %s is complete and intact\n", pos[0].c_str());
  return 0;
}

// Prints the ids of a text (for sdft-torch, which cannot link SentencePiece).
int Encode(const std::vector<std::string>& args) {
  std::string model_path, text, text_file;
  FlagSet flags("encode", "sdft-tokenize encode --tokenizer FILE.model (--text TEXT | --text-file FILE)",
                "Prints the token ids of the text, space-separated.");
  flags.String("tokenizer", &model_path, "SentencePiece model");
  flags.String("text", &text, "text to encode");
  flags.String("text-file", &text_file, "file holding the text to encode");
  std::vector<std::string> pos;
  if (int rc; !ParseFlags(flags, args, &pos, &rc)) return rc;
  if (!text_file.empty()) {
    if (absl::Status s = ReadFile(text_file, &text); !s.ok()) return Fail(s);
  }
  absl::StatusOr<std::vector<int>> ids = EncodeText(model_path, text);
  if (!ids.ok()) return Fail(ids.status());
  std::string out;
  for (size_t i = 0; i < ids->size(); ++i) absl::StrAppend(&out, i ? " " : "", (*ids)[i]);
  std::printf("%s\n", out.c_str());
  return 0;
}

// Tokenizes an evaluation set: {"id", "prompt", "candidates": [...], ...}
// lines become {"id", "prompt_ids", "candidate_ids", ...} (other fields kept),
// so sdft-torch can score candidates without SentencePiece. A candidate's ids
// are those of prompt + candidate after the prompt's own ids (the tokens the
// model would produce), falling back to encoding the candidate alone when
// the prompt's encoding is not a prefix.
int EncodeSet(const std::vector<std::string>& args) {
  std::string model_path, in_path, out_path;
  FlagSet flags("encode-set", "sdft-tokenize encode-set --tokenizer FILE.model --in SET.jsonl --out SET.ids.jsonl",
                "Tokenizes an evaluation set for sdft-torch score.");
  flags.String("tokenizer", &model_path, "SentencePiece model");
  flags.String("in", &in_path, "evaluation set (JSONL with prompt and candidates)");
  flags.String("out", &out_path, "tokenized set");
  bool prompts_only = false;
  flags.Bool("prompts-only", &prompts_only, "encode only the prompts (a set to sample from)");
  std::vector<std::string> pos;
  if (int rc; !ParseFlags(flags, args, &pos, &rc)) return rc;
  std::string bytes, error;
  if (absl::Status s = ReadFile(model_path, &bytes); !s.ok()) return Fail(s);
  std::unique_ptr<SpmModel> model = SpmModel::FromBytes(bytes, &error);
  if (!model) return Fail(absl::InvalidArgumentError(absl::StrCat(model_path, ": not a readable SentencePiece model: ", error)));
  std::string out;
  absl::Status status = ForEachJsonLine(in_path, [&](int line_no, nlohmann::ordered_json& j) -> absl::Status {
    if (prompts_only) {  // a set to sample from: candidates play no part
      if (!j.contains("prompt") || !j["prompt"].is_string()) return LineError(in_path, line_no, "expected {\"prompt\": \"...\"}");
      j["candidates"] = nlohmann::ordered_json::array();
    } else if (!j.contains("prompt") || !j["prompt"].is_string() || !j.contains("candidates") ||
               !j["candidates"].is_array() || j["candidates"].empty()) {
      return LineError(in_path, line_no, "expected {\"prompt\": \"...\", \"candidates\": [\"...\", ...]}");
    }
    const std::string prompt = j["prompt"];
    std::vector<int> p_ids, full, c_ids;
    if (!model->Encode(prompt, &p_ids, &error)) return absl::InternalError(error);
    nlohmann::ordered_json cands = nlohmann::ordered_json::array();
    for (const auto& c : j["candidates"]) {
      if (!c.is_string()) return LineError(in_path, line_no, "candidates must be strings");
      if (!model->Encode(prompt + c.get<std::string>(), &full, &error)) return absl::InternalError(error);
      if (full.size() > p_ids.size() && std::equal(p_ids.begin(), p_ids.end(), full.begin())) {
        c_ids.assign(full.begin() + p_ids.size(), full.end());
      } else if (!model->Encode(c.get<std::string>(), &c_ids, &error)) {
        return absl::InternalError(error);
      }
      cands.push_back(c_ids);
    }
    j.erase("prompt");
    j.erase("candidates");
    j["prompt_ids"] = p_ids;
    j["candidate_ids"] = cands;
    out += j.dump() + "\n";
    return absl::OkStatus();
  });
  if (!status.ok()) return Fail(status);
  if (absl::Status s = WriteFileAtomically(out_path, out); !s.ok()) return Fail(s);
  return 0;
}

// Joins token directories (e.g. the K outputs of --shard I/K) into one.
int Merge(const std::vector<std::string>& args) {
  std::string out;
  bool force = false, quiet = false;
  FlagSet flags("merge", "sdft merge --out TOKDIR TOKDIR_0 TOKDIR_1 ...",
                "Concatenates token directories written with the same tokenizer, in the order given, into one "
                "Megatron index set per split (train_00000, val_00000) with one manifest. Each input is verified "
                "first. Merging the K shards of `sdft tokenize --shard I/K` in order gives the unsharded tokens.");
  flags.String("out", &out, "merged token directory");
  flags.Bool("force", &force, "replace an existing output directory");
  flags.Bool("quiet", &quiet, "no summary");
  std::vector<std::string> pos;
  if (int rc; !ParseFlags(flags, args, &pos, &rc)) return rc;
  if (out.empty()) return Fail(absl::InvalidArgumentError("merge: --out is required"));
  absl::StatusOr<MergeResult> r = MergeTokenDirs(pos, out, force);
  if (!r.ok()) return Fail(r.status());
  if (!quiet) {
    std::fprintf(stderr, "merge: %zu directories, %llu documents, %llu tokens -> %s\n", pos.size(),
                 static_cast<unsigned long long>(r->documents), static_cast<unsigned long long>(r->tokens), out.c_str());
  }
  return 0;
}

}  // namespace
}  // namespace sdft

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: sdft-tokenize tokenize|verify|merge|encode|encode-set [flags] (normally run as `sdft tokenize`)\n");
    return 2;
  }
  sdft::InstallInterruptHandler();
  std::vector<std::string> args(argv + 2, argv + argc);
  if (!std::strcmp(argv[1], "tokenize")) return sdft::Tokenize(args);
  if (!std::strcmp(argv[1], "verify")) return sdft::Verify(args);
  if (!std::strcmp(argv[1], "encode")) return sdft::Encode(args);
  if (!std::strcmp(argv[1], "encode-set")) return sdft::EncodeSet(args);
  if (!std::strcmp(argv[1], "merge")) return sdft::Merge(args);
  std::fprintf(stderr, "sdft-tokenize: unknown command '%s'\n", argv[1]);
  return 2;
}
