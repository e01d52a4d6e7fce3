// Decoding token ids without SentencePiece: a lookup in the token
// directory's vocab.tsv (see docs/formats.md). Byte-exact for sdft's
// tokenizers.
#ifndef SDFT_TOKENIZER_VOCAB_H_
#define SDFT_TOKENIZER_VOCAB_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sdft {

class Vocab {
 public:
  static absl::StatusOr<Vocab> Load(const std::string& path);
  std::string Decode(const std::vector<int64_t>& ids) const;
  const std::string& Piece(int64_t id) const { return pieces_.at(id); }  // decoded bytes
  size_t size() const { return pieces_.size(); }
  // The id whose decoded text is exactly `text`, or -1.
  int64_t Find(const std::string& text) const;

 private:
  std::vector<std::string> pieces_;
};

}  // namespace sdft

#endif  // SDFT_TOKENIZER_VOCAB_H_
