// The only door to SentencePiece. sentencepiece's headers declare their own
// absl::string_view, which clashes with Abseil's, so this header includes
// neither and spm_wrapper.cc includes no Abseil header; errors come back as
// plain strings. Everything else in sdft-tokenize talks to this wrapper.
#ifndef SDFT_TOKENIZER_SPM_WRAPPER_H_
#define SDFT_TOKENIZER_SPM_WRAPPER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sdft {

enum class PieceType { kNormal, kUnknown, kControl, kUserDefined, kByte, kUnused };

class SpmModel {
 public:
  ~SpmModel();
  // From a serialized ModelProto (the bytes of a .model file).
  static std::unique_ptr<SpmModel> FromBytes(const std::string& bytes, std::string* error);

  // Thread-safe.
  bool Encode(std::string_view text, std::vector<int>* ids, std::string* error) const;
  std::string Decode(const std::vector<int>& ids) const;

  int vocab_size() const;
  std::string IdToPiece(int id) const;
  int PieceToId(std::string_view piece) const;  // unk_id() when absent
  PieceType Type(int id) const;
  int unk_id() const;
  int bos_id() const;  // -1 when the model has none
  int eos_id() const;
  int pad_id() const;

 private:
  SpmModel();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct SpmTrainOptions {
  int vocab_size = 4096;
  std::string model_type = "bpe";  // bpe | unigram
  std::vector<std::string> user_defined_symbols;
  int num_threads = 2;
  double character_coverage = 0.9995;
};

// Trains a model from `sentences` (each at most 4192 bytes, no newlines) and
// returns the serialized ModelProto. Byte fallback on, identity
// normalization, whitespace kept as is, no dummy prefix: decoding restores
// the exact input bytes.
bool TrainSpm(const SpmTrainOptions& options, const std::vector<std::string>& sentences, std::string* model,
              std::string* error);

}  // namespace sdft

#endif  // SDFT_TOKENIZER_SPM_WRAPPER_H_
