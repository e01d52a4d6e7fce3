// `sdft tokenize`: JSONL corpora -> a SentencePiece tokenizer (trained, or an
// existing .model), a vocabulary table for the torch side, and Megatron-LM
// token shards split into train/val, written streaming with bounded memory,
// then a manifest. `sdft verify` checks a token directory against it.
#ifndef SDFT_TOKENIZER_TOKENIZE_RUN_H_
#define SDFT_TOKENIZER_TOKENIZE_RUN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sdft {

// The chat markup used in evaluation; trained tokenizers make each one token.
extern const char* const kChatTags[];
extern const int kNumChatTags;

struct TokenizeInput {
  std::string arg;   // as given
  std::string path;  // the JSONL file
  double weight = 1.0;
};

struct TokenizeOptions {
  std::vector<TokenizeInput> inputs;
  int vocab_size = 0;              // > 0: train a tokenizer of this size
  std::string model_type = "bpe";  // bpe | unigram
  std::string tokenizer_path;      // or load this .model
  // Extra strings a trained tokenizer makes single tokens (besides the chat
  // tags), e.g. the model organism's assistant names.
  std::vector<std::string> user_symbols;
  uint64_t train_sentences = 300000;  // at most this many lines sampled for training
  double val_fraction = 0.01;
  uint64_t seed = 1;
  int threads = 1;
  uint64_t max_shard_bytes = 1ULL << 30;  // .bin files are split past this size
  // Slice I of K of the (shuffled) documents, for cluster array jobs: needs
  // an existing tokenizer; merging the K outputs in order (MergeTokenDirs)
  // gives the unsharded run's tokens.
  int shard_index = 0;
  int shard_count = 1;
  std::string out_dir;
  bool force = false;
  bool progress = true;
};

struct TokenizeResult {
  uint64_t documents = 0, tokens = 0, text_bytes = 0;
  double seconds = 0, encode_seconds = 0;
};

// Reads --user-symbols FILE: one symbol per line (blank lines and lines
// starting with '#' skipped); a symbol with whitespace or a comma is an error
// naming file:line.
absl::StatusOr<std::vector<std::string>> ReadUserSymbols(const std::string& path);

// Parses "PATH[:WEIGHT]" (PATH a corpus directory or a .jsonl file).
absl::StatusOr<TokenizeInput> ParseTokenizeInput(const std::string& arg);

absl::StatusOr<TokenizeResult> RunTokenize(const TokenizeOptions& options);

// Checks every file the manifest lists (presence, size, sha256) and every
// shard's index against its data; returns the problems found, each naming
// its file. An unreadable manifest is an error status.
absl::StatusOr<std::vector<std::string>> VerifyTokenDir(const std::string& dir);

// Encodes one text with a SentencePiece model file.
absl::StatusOr<std::vector<int>> EncodeText(const std::string& model_path, const std::string& text);

}  // namespace sdft

#endif  // SDFT_TOKENIZER_TOKENIZE_RUN_H_
