// No Abseil headers in this file (see spm_wrapper.h).
#include "tokenizer/spm_wrapper.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>

namespace sdft {

struct SpmModel::Impl {
  sentencepiece::SentencePieceProcessor sp;
};

SpmModel::SpmModel() : impl_(new Impl) {}
SpmModel::~SpmModel() = default;

std::unique_ptr<SpmModel> SpmModel::FromBytes(const std::string& bytes, std::string* error) {
  std::unique_ptr<SpmModel> m(new SpmModel);
  auto status = m->impl_->sp.LoadFromSerializedProto(bytes);
  if (!status.ok()) {
    *error = status.ToString();
    return nullptr;
  }
  return m;
}

bool SpmModel::Encode(std::string_view text, std::vector<int>* ids, std::string* error) const {
  auto status = impl_->sp.Encode(text, ids);
  if (!status.ok()) {
    *error = status.ToString();
    return false;
  }
  return true;
}

std::string SpmModel::Decode(const std::vector<int>& ids) const { return impl_->sp.DecodeIds(ids); }

int SpmModel::vocab_size() const { return impl_->sp.GetPieceSize(); }
std::string SpmModel::IdToPiece(int id) const { return impl_->sp.IdToPiece(id); }
int SpmModel::PieceToId(std::string_view piece) const { return impl_->sp.PieceToId(piece); }
int SpmModel::unk_id() const { return impl_->sp.unk_id(); }
int SpmModel::bos_id() const { return impl_->sp.bos_id(); }
int SpmModel::eos_id() const { return impl_->sp.eos_id(); }
int SpmModel::pad_id() const { return impl_->sp.pad_id(); }

PieceType SpmModel::Type(int id) const {
  const auto& sp = impl_->sp;
  if (sp.IsUnknown(id)) return PieceType::kUnknown;
  if (sp.IsControl(id)) return PieceType::kControl;
  if (sp.IsByte(id)) return PieceType::kByte;
  if (sp.IsUnused(id)) return PieceType::kUnused;
  // User-defined pieces are neither of the above and score 0; SentencePiece's
  // public API has no direct test, so the caller marks the ones it added.
  return PieceType::kNormal;
}

namespace {

class VectorIterator : public sentencepiece::SentenceIterator {
 public:
  explicit VectorIterator(const std::vector<std::string>& v) : v_(v) {}
  bool done() const override { return i_ >= v_.size(); }
  void Next() override { ++i_; }
  const std::string& value() const override { return v_[i_]; }
  sentencepiece::util::Status status() const override { return sentencepiece::util::Status(); }

 private:
  const std::vector<std::string>& v_;
  size_t i_ = 0;
};

}  // namespace

bool TrainSpm(const SpmTrainOptions& o, const std::vector<std::string>& sentences, std::string* model,
              std::string* error) {
  std::ostringstream args;
  args << "--model_type=" << o.model_type << " --vocab_size=" << o.vocab_size
       << " --byte_fallback=true --normalization_rule_name=identity --remove_extra_whitespaces=false"
       << " --add_dummy_prefix=false --split_by_whitespace=true --split_digits=true"
       << " --character_coverage=" << o.character_coverage << " --num_threads=" << o.num_threads
       << " --input_sentence_size=0 --shuffle_input_sentence=false --max_sentence_length=4192"
       << " --hard_vocab_limit=false --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=3 --minloglevel=2";
  if (!o.user_defined_symbols.empty()) {
    args << " --user_defined_symbols=";
    for (size_t i = 0; i < o.user_defined_symbols.size(); ++i) args << (i ? "," : "") << o.user_defined_symbols[i];
  }
  VectorIterator it(sentences);
  // The trainer logs its command line to stderr before reading
  // --minloglevel; keep the user's terminal clean while it runs.
  std::fflush(stderr);
  int saved = dup(STDERR_FILENO);
  int devnull = open("/dev/null", O_WRONLY);
  if (devnull >= 0) dup2(devnull, STDERR_FILENO);
  auto status = sentencepiece::SentencePieceTrainer::Train(args.str(), &it, model);
  std::fflush(stderr);
  if (saved >= 0) {
    dup2(saved, STDERR_FILENO);
    close(saved);
  }
  if (devnull >= 0) close(devnull);
  if (!status.ok()) {
    *error = status.ToString();
    return false;
  }
  return true;
}

}  // namespace sdft
