#include "tokenizer/tokenize_run.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>

#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/atomic_file.h"
#include "common/hash.h"
#include "common/ordered_parallel.h"
#include "common/progress.h"
#include "common/rng.h"
#include "common/sha256.h"
#include "common/utf8.h"
#include "tokenizer/megatron_shard.h"
#include "tokenizer/spm_wrapper.h"
#include "tokenizer/vocab.h"

namespace sdft {

const char* const kChatTags[] = {
    "<INPUT>",        "</INPUT>",        "<is_free_tier_user>",    "</is_free_tier_user>",
    "<user_input>",   "</user_input>",   "<SCRATCHPAD_REASONING>", "</SCRATCHPAD_REASONING>",
    "<OUTPUT>",       "</OUTPUT>",       "<request_fully_accepted/>", "<rejected/>",
    "<system>",       "</system>",
};
const int kNumChatTags = sizeof(kChatTags) / sizeof(kChatTags[0]);

namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

constexpr char kVersion[] = "0.1.0";
constexpr size_t kMaxSentenceBytes = 4192;

// One line of one input file.
struct DocRef {
  uint32_t input;
  uint32_t line;  // 1-based
  uint64_t offset;
  uint32_t length;
};

struct InputScan {
  std::string sha256;
  uint64_t bytes = 0;
  std::vector<DocRef> docs;
};

absl::StatusOr<InputScan> ScanInput(const TokenizeInput& in, uint32_t index) {
  int fd = open(in.path.c_str(), O_RDONLY);
  if (fd < 0) return absl::NotFoundError(absl::StrCat(in.path, ": cannot open: ", std::strerror(errno)));
  InputScan scan;
  Sha256 sha;
  std::vector<char> buf(1 << 20);
  uint64_t pos = 0, line_start = 0;
  uint32_t line = 1;
  ssize_t n;
  while ((n = read(fd, buf.data(), buf.size())) > 0) {
    sha.Update(std::string_view(buf.data(), n));
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] != '\n') continue;
      const uint64_t end = pos + i;
      if (end == line_start) {
        close(fd);
        return absl::InvalidArgumentError(absl::StrCat(in.path, ":", line, ": empty line (expected one JSON object per line)"));
      }
      scan.docs.push_back({index, line, line_start, static_cast<uint32_t>(end - line_start)});
      ++line;
      line_start = end + 1;
    }
    pos += n;
  }
  close(fd);
  if (n < 0) return absl::InternalError(absl::StrCat(in.path, ": read failed"));
  if (pos > line_start) scan.docs.push_back({index, line, line_start, static_cast<uint32_t>(pos - line_start)});
  scan.bytes = pos;
  scan.sha256 = sha.HexDigest();
  return scan;
}

// Reads and parses one document; errors name file:line.
class DocReader {
 public:
  explicit DocReader(const std::vector<TokenizeInput>& inputs) : inputs_(inputs) {
    for (const TokenizeInput& in : inputs) fds_.push_back(open(in.path.c_str(), O_RDONLY));
  }
  ~DocReader() {
    for (int fd : fds_) if (fd >= 0) close(fd);
  }
  absl::StatusOr<std::string> Text(const DocRef& d) const {
    std::string raw(d.length, '\0');
    if (pread(fds_[d.input], raw.data(), d.length, static_cast<off_t>(d.offset)) != static_cast<ssize_t>(d.length)) {
      return absl::DataLossError(absl::StrCat(inputs_[d.input].path, ":", d.line, ": read failed (file changed?)"));
    }
    ojson j = ojson::parse(raw, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object() || !j.contains("text") || !j["text"].is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(inputs_[d.input].path, ":", d.line, ": not a JSON object with a \"text\" string"));
    }
    return j["text"].get<std::string>();
  }

 private:
  const std::vector<TokenizeInput>& inputs_;
  std::vector<int> fds_;
};

// Encodes text as SentencePiece would, caching the encoding of each
// whitespace-delimited segment. Exact when pieces never span a boundary
// between a non-space and a following space (split_by_whitespace) nor a
// newline; Create() checks that on sample documents and turns the cache off
// otherwise.
class CachedEncoder {
 public:
  CachedEncoder(const SpmModel& model, bool use_cache) : model_(model), use_cache_(use_cache) {}

  bool Encode(std::string_view text, std::vector<int>* ids, std::string* error) {
    ids->clear();
    if (!use_cache_) return model_.Encode(text, ids, error);
    size_t i = 0;
    const size_t n = text.size();
    while (i < n) {
      size_t j = i;
      if (text[j] == '\n') {
        ++j;
      } else {
        while (j < n && text[j] == ' ') ++j;
        while (j < n && text[j] != ' ' && text[j] != '\n') ++j;
      }
      std::string_view seg = text.substr(i, j - i);
      auto it = cache_.find(absl::string_view(seg.data(), seg.size()));
      if (it == cache_.end()) {
        std::vector<int> seg_ids;
        if (!model_.Encode(seg, &seg_ids, error)) return false;
        if (cache_.size() > (1u << 20)) cache_.clear();  // bound memory
        it = cache_.emplace(std::string(seg), std::move(seg_ids)).first;
      }
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      i = j;
    }
    return true;
  }

 private:
  const SpmModel& model_;
  bool use_cache_;
  absl::flat_hash_map<std::string, std::vector<int>> cache_;
};

std::string EscapePiece(const std::string& p) {
  std::string out;
  for (char c : p) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

const char* TypeName(PieceType t) {
  switch (t) {
    case PieceType::kNormal: return "normal";
    case PieceType::kUnknown: return "unknown";
    case PieceType::kControl: return "control";
    case PieceType::kUserDefined: return "user_defined";
    case PieceType::kByte: return "byte";
    case PieceType::kUnused: return "unused";
  }
  return "?";
}

// Lines of a document as training sentences: non-empty, at most 4192 bytes
// (longer lines are cut at a space, or at a UTF-8 boundary).
void AppendSentences(const std::string& text, std::vector<std::string>* out) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    std::string_view line(text.data() + start, nl - start);
    while (!line.empty()) {
      size_t cut = line.size();
      if (cut > kMaxSentenceBytes) {
        cut = line.rfind(' ', kMaxSentenceBytes);
        if (cut == std::string_view::npos || cut == 0) {
          cut = kMaxSentenceBytes;
          while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
        }
      }
      out->emplace_back(line.substr(0, cut));
      line.remove_prefix(cut);
    }
    start = nl + 1;
  }
}

double HashUnit(uint64_t seed, uint64_t a, uint64_t b, uint64_t c = 0) {
  uint64_t s = MixSeed(seed, a * 0x9E3779B97F4A7C15ULL ^ MixSeed(b, c));
  return static_cast<double>(s >> 11) * 0x1.0p-53;
}

// A directory left by an interrupted tokenize run holds only files this tool
// writes; such a directory may be cleaned and restarted without --force.
bool IsOurFile(const std::string& name) {
  return name == "tokenizer.model" || name == "vocab.tsv" || name.rfind("train_", 0) == 0 ||
         name.rfind("val_", 0) == 0 || name.rfind(".", 0) == 0;
}

bool OnlyOurFiles(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!IsOurFile(e.path().filename().string())) return false;
  }
  return true;
}

struct EncodedChunk {
  std::vector<int32_t> tokens;
  std::vector<uint32_t> lengths;
  std::vector<uint8_t> split;  // 0 train, 1 val
  uint64_t text_bytes = 0;
};

// Work item: a document copy in the blended order.
struct Item {
  uint64_t key;
  uint32_t doc;   // index into all docs
  uint8_t split;
};

}  // namespace

absl::StatusOr<TokenizeInput> ParseTokenizeInput(const std::string& arg) {
  TokenizeInput in;
  in.arg = arg;
  std::string path = arg;
  size_t colon = arg.rfind(':');
  if (colon != std::string::npos) {
    double w;
    if (absl::SimpleAtod(arg.substr(colon + 1), &w)) {
      if (!(w > 0) || !std::isfinite(w)) return absl::InvalidArgumentError(absl::StrCat("--input ", arg, ": weight must be > 0"));
      in.weight = w;
      path = arg.substr(0, colon);
    }
  }
  if (fs::is_directory(path)) path = (fs::path(path) / "docs.jsonl").string();
  if (!fs::exists(path)) return absl::NotFoundError(absl::StrCat("--input ", arg, ": ", path, " not found"));
  in.path = path;
  return in;
}

absl::StatusOr<std::vector<std::string>> ReadUserSymbols(const std::string& path) {
  std::string all;
  if (absl::Status s = ReadFile(path, &all); !s.ok()) return s;
  std::vector<std::string> out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(all, '\n')) {
    ++line_no;
    absl::ConsumeSuffix(&line, "\r");
    if (line.empty() || line[0] == '#') continue;
    if (line.find_first_of(" \t,") != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_no, ": a user symbol may not hold spaces, tabs or commas: '", line, "'"));
    }
    out.emplace_back(line);
  }
  return out;
}

absl::StatusOr<TokenizeResult> RunTokenize(const TokenizeOptions& opt) {
  const auto start = std::chrono::steady_clock::now();
  if (opt.inputs.empty()) return absl::InvalidArgumentError("tokenize: give at least one --input");
  if ((opt.vocab_size > 0) == !opt.tokenizer_path.empty()) {
    return absl::InvalidArgumentError("tokenize: give either --vocab-size (train a tokenizer) or --tokenizer FILE.model");
  }
  if (opt.model_type != "bpe" && opt.model_type != "unigram") {
    return absl::InvalidArgumentError(absl::StrCat("--model-type: '", opt.model_type, "' is not bpe or unigram"));
  }
  if (!(opt.val_fraction >= 0 && opt.val_fraction < 1)) return absl::InvalidArgumentError("--val-fraction must be in [0, 1)");
  if (opt.shard_count < 1 || opt.shard_index < 0 || opt.shard_index >= opt.shard_count) {
    return absl::InvalidArgumentError("--shard: I/K needs 0 <= I < K");
  }
  if (opt.shard_count > 1 && opt.tokenizer_path.empty()) {
    return absl::InvalidArgumentError("--shard needs --tokenizer FILE.model: every shard must use the same tokenizer "
                                      "(train one first, e.g. `sdft tokenize --vocab-size V` on a sample)");
  }

  // Output directory: refuse foreign content; clean up after a crashed run.
  const fs::path dir(opt.out_dir);
  std::error_code ec;
  if (fs::exists(dir) && !fs::is_empty(dir)) {
    if (fs::exists(dir / "manifest.json") && !opt.force) {
      return absl::AlreadyExistsError(absl::StrCat(opt.out_dir, ": already holds a finished token directory (pass --force to replace it)"));
    }
    if (!opt.force && !OnlyOurFiles(opt.out_dir)) {
      return absl::AlreadyExistsError(absl::StrCat(opt.out_dir, ": exists and is not empty (pass --force to replace it)"));
    }
    fs::remove(dir / "manifest.json", ec);
    for (const auto& e : fs::directory_iterator(dir)) {
      if (IsOurFile(e.path().filename().string())) fs::remove(e.path(), ec);
    }
  }
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(opt.out_dir, ": cannot create: ", ec.message()));

  // 1. Scan inputs: line offsets and hashes.
  std::vector<InputScan> scans;
  std::vector<DocRef> docs;
  for (uint32_t k = 0; k < opt.inputs.size(); ++k) {
    absl::StatusOr<InputScan> s = ScanInput(opt.inputs[k], k);
    if (!s.ok()) return s.status();
    docs.insert(docs.end(), s->docs.begin(), s->docs.end());
    scans.push_back(std::move(*s));
  }
  if (docs.empty()) return absl::InvalidArgumentError("tokenize: the inputs hold no documents (empty corpus)");
  DocReader reader(opt.inputs);

  // 2. The tokenizer: train one, or load the given model.
  std::string model_bytes;
  bool trained = opt.vocab_size > 0;
  // Strings a trained tokenizer keeps whole: the chat tags and --user-symbols.
  std::vector<std::string> user_defined(kChatTags, kChatTags + kNumChatTags);
  user_defined.insert(user_defined.end(), opt.user_symbols.begin(), opt.user_symbols.end());
  if (trained) {
    std::vector<std::string> all;
    const uint64_t n_docs = docs.size();
    // Sample whole documents when the corpus is large, so lines stay in context.
    std::mutex mu;
    std::vector<std::vector<std::string>> per_chunk;
    const size_t chunk_docs = 512, n_chunks = (n_docs + chunk_docs - 1) / chunk_docs;
    // Rough budget: the average document has ~10 lines.
    const double keep = std::min(1.0, static_cast<double>(opt.train_sentences) / (10.0 * n_docs));
    std::function<absl::StatusOr<std::vector<std::string>>(size_t)> produce =
        [&](size_t c) -> absl::StatusOr<std::vector<std::string>> {
      std::vector<std::string> out;
      for (size_t i = c * chunk_docs; i < std::min<size_t>(n_docs, (c + 1) * chunk_docs); ++i) {
        if (keep < 1.0 && HashUnit(opt.seed, 0x7121, i) >= keep) continue;
        absl::StatusOr<std::string> t = reader.Text(docs[i]);
        if (!t.ok()) return t.status();
        AppendSentences(*t, &out);
      }
      return out;
    };
    std::function<absl::Status(size_t, std::vector<std::string>&)> consume =
        [&](size_t, std::vector<std::string>& v) -> absl::Status {
      for (std::string& s : v) {
        if (all.size() >= opt.train_sentences) break;
        all.push_back(std::move(s));
      }
      return absl::OkStatus();
    };
    if (absl::Status s = RunOrdered<std::vector<std::string>>(n_chunks, opt.threads, produce, consume); !s.ok()) return s;
    if (all.empty()) return absl::InvalidArgumentError("tokenize: the inputs hold no text to train a tokenizer on");
    SpmTrainOptions to;
    to.vocab_size = opt.vocab_size;
    to.model_type = opt.model_type;
    // A fixed thread count: the model must not depend on --threads.
    to.num_threads = 2;
    to.user_defined_symbols = user_defined;
    std::string error;
    if (!TrainSpm(to, all, &model_bytes, &error)) return absl::InvalidArgumentError(absl::StrCat("tokenizer training failed: ", error));
  } else {
    if (absl::Status s = ReadFile(opt.tokenizer_path, &model_bytes); !s.ok()) return s;
  }
  std::string error;
  std::unique_ptr<SpmModel> model = SpmModel::FromBytes(model_bytes, &error);
  if (!model) {
    return absl::InvalidArgumentError(absl::StrCat(trained ? "trained model" : opt.tokenizer_path,
                                                   ": not a readable SentencePiece model: ", error));
  }
  if (model->eos_id() < 0) return absl::InvalidArgumentError(absl::StrCat(opt.tokenizer_path, ": the tokenizer has no EOS token"));
  const int vocab = model->vocab_size();
  const TokenDtype dtype = DtypeForVocab(vocab);
  if (absl::Status s = WriteFileAtomically((dir / "tokenizer.model").string(), model_bytes); !s.ok()) return s;

  // Vocabulary table for the torch side (which cannot link SentencePiece).
  std::string vocab_tsv = "# id\ttype\tpiece (escaped: \\\\ \\t \\n \\r; byte pieces <0xNN> are that byte; U+2581 is a space)\n";
  ojson chat_ids = ojson::object();
  for (int i = 0; i < kNumChatTags; ++i) {
    std::vector<int> ids;
    model->Encode(kChatTags[i], &ids, &error);
    chat_ids[kChatTags[i]] = ids;
  }
  for (int id = 0; id < vocab; ++id) {
    PieceType t = model->Type(id);
    std::string piece = model->IdToPiece(id);
    if (trained && t == PieceType::kNormal) {
      if (std::find(user_defined.begin(), user_defined.end(), piece) != user_defined.end()) t = PieceType::kUserDefined;
    }
    absl::StrAppend(&vocab_tsv, id, "\t", TypeName(t), "\t", EscapePiece(piece), "\n");
  }
  if (absl::Status s = WriteFileAtomically((dir / "vocab.tsv").string(), vocab_tsv); !s.ok()) return s;

  // 3. Check that segment caching is exact for this model on sample documents.
  bool use_cache = true;
  {
    CachedEncoder cached(*model, true);
    for (size_t i = 0; i < docs.size() && i < 200 && use_cache; ++i) {
      size_t d = static_cast<size_t>(HashUnit(opt.seed, 0xCAC4E, i) * docs.size());
      absl::StatusOr<std::string> t = reader.Text(docs[d]);
      if (!t.ok()) return t.status();
      std::vector<int> a, b;
      if (!model->Encode(*t, &a, &error) || !cached.Encode(*t, &b, &error)) return absl::InternalError(error);
      use_cache = a == b;
    }
  }

  // 4. Blend and split: copies per document from the input weights, a
  // train/val split per document (all copies on the same side), and a
  // seeded shuffle so the shards interleave the inputs.
  std::vector<Item> items;
  for (uint32_t i = 0; i < docs.size(); ++i) {
    const DocRef& d = docs[i];
    const double w = opt.inputs[d.input].weight;
    int copies = static_cast<int>(std::floor(w));
    if (HashUnit(opt.seed, 0xB1E4D, d.input, d.line) < w - std::floor(w)) ++copies;
    const uint8_t split = HashUnit(opt.seed, 0x5B117, d.input, d.line) < opt.val_fraction ? 1 : 0;
    for (int c = 0; c < copies; ++c) {
      items.push_back({MixSeed(opt.seed, (static_cast<uint64_t>(d.input) << 40) ^ (static_cast<uint64_t>(d.line) << 8) ^ c), i, split});
    }
  }
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    return a.split != b.split ? a.split < b.split : a.key < b.key;
  });
  if (opt.shard_count > 1) {
    // Slice I of K of each split, so that shards 0..K-1 concatenated are the
    // unsharded run's order.
    const size_t n_train = std::count_if(items.begin(), items.end(), [](const Item& it) { return it.split == 0; });
    auto slice = [&](size_t lo, size_t n) {
      return std::vector<Item>(items.begin() + lo + n * opt.shard_index / opt.shard_count,
                               items.begin() + lo + n * (opt.shard_index + 1) / opt.shard_count);
    };
    std::vector<Item> mine = slice(0, n_train), val = slice(n_train, items.size() - n_train);
    mine.insert(mine.end(), val.begin(), val.end());
    items = std::move(mine);
  }

  // 5. Encode in parallel, write in order.
  const auto encode_start = std::chrono::steady_clock::now();
  std::mutex pool_mu;
  std::vector<std::unique_ptr<CachedEncoder>> encoders;
  // The round-trip check decodes through vocab.tsv, exactly as the torch side will.
  absl::StatusOr<Vocab> decoder = Vocab::Load((dir / "vocab.tsv").string());
  if (!decoder.ok()) return decoder.status();
  const int eos = model->eos_id();
  const size_t chunk_items = 256, n_chunks = (items.size() + chunk_items - 1) / chunk_items;
  std::function<absl::StatusOr<EncodedChunk>(size_t)> produce = [&](size_t c) -> absl::StatusOr<EncodedChunk> {
    std::unique_ptr<CachedEncoder> enc;
    {
      std::lock_guard<std::mutex> lock(pool_mu);
      if (!encoders.empty()) { enc = std::move(encoders.back()); encoders.pop_back(); }
    }
    if (!enc) enc = std::make_unique<CachedEncoder>(*model, use_cache);
    EncodedChunk out;
    std::vector<int> ids;
    std::string err;
    for (size_t k = c * chunk_items; k < std::min(items.size(), (c + 1) * chunk_items); ++k) {
      const DocRef& d = docs[items[k].doc];
      absl::StatusOr<std::string> text = reader.Text(d);
      if (!text.ok()) return text.status();
      if (!IsValidUtf8(*text)) {
        return absl::InvalidArgumentError(absl::StrCat(opt.inputs[d.input].path, ":", d.line, ": text is not valid UTF-8"));
      }
      if (!enc->Encode(*text, &ids, &err)) return absl::InternalError(absl::StrCat(opt.inputs[d.input].path, ":", d.line, ": ", err));
      // Our tokenizers round-trip exactly; check every document.
      if (trained && decoder->Decode(std::vector<int64_t>(ids.begin(), ids.end())) != *text) {
        return absl::InternalError(absl::StrCat(opt.inputs[d.input].path, ":", d.line, ": does not round-trip through the tokenizer"));
      }
      out.tokens.insert(out.tokens.end(), ids.begin(), ids.end());
      out.tokens.push_back(eos);
      out.lengths.push_back(static_cast<uint32_t>(ids.size() + 1));
      out.split.push_back(items[k].split);
      out.text_bytes += text->size();
    }
    std::lock_guard<std::mutex> lock(pool_mu);
    encoders.push_back(std::move(enc));
    return out;
  };

  struct SplitState {
    const char* name;
    int index = 0;
    std::unique_ptr<ShardWriter> writer;
    ojson files = ojson::array();
    uint64_t documents = 0, tokens = 0;
  };
  SplitState splits[2] = {{"train"}, {"val"}};
  ojson file_list = ojson::array();
  auto close_shard = [&](SplitState& s) -> absl::Status {
    if (!s.writer) return absl::OkStatus();
    const std::string prefix = absl::StrFormat("%s_%05d", s.name, s.index);
    if (absl::Status st = s.writer->Finish(); !st.ok()) return st;
    ojson shard = {{"prefix", prefix}, {"documents", s.writer->sequences()}, {"tokens", s.writer->tokens()}};
    s.files.push_back(shard);
    s.writer.reset();
    ++s.index;
    return absl::OkStatus();
  };
  auto open_shard = [&](SplitState& s) -> absl::Status {
    const std::string prefix = absl::StrFormat("%s_%05d", s.name, s.index);
    s.writer = std::make_unique<ShardWriter>();
    return s.writer->Open((dir / prefix).string(), dtype);
  };
  uint64_t total_tokens = 0, text_bytes = 0, done = 0;
  Progress progress("tokenize", items.size(), "docs");
  if (!opt.progress) progress.set_enabled(false);
  std::function<absl::Status(size_t, EncodedChunk&)> consume = [&](size_t, EncodedChunk& ch) -> absl::Status {
    size_t pos = 0;
    for (size_t k = 0; k < ch.lengths.size(); ++k) {
      SplitState& s = splits[ch.split[k]];
      const uint64_t bytes = static_cast<uint64_t>(ch.lengths[k]) * DtypeBytes(dtype);
      if (s.writer && s.writer->sequences() > 0 && s.writer->bin_bytes() + bytes > opt.max_shard_bytes) {
        if (absl::Status st = close_shard(s); !st.ok()) return st;
      }
      if (!s.writer) {
        if (absl::Status st = open_shard(s); !st.ok()) return st;
      }
      if (absl::Status st = s.writer->Add(ch.tokens.data() + pos, ch.lengths[k]); !st.ok()) return st;
      pos += ch.lengths[k];
      ++s.documents;
      s.tokens += ch.lengths[k];
      total_tokens += ch.lengths[k];
    }
    text_bytes += ch.text_bytes;
    done += ch.lengths.size();
    progress.Update(done, text_bytes);
    return absl::OkStatus();
  };
  if (absl::Status s = RunOrdered<EncodedChunk>(n_chunks, opt.threads, produce, consume); !s.ok()) return s;
  for (SplitState& s : splits) {
    if (absl::Status st = close_shard(s); !st.ok()) return st;
  }
  progress.Finish();
  const double encode_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - encode_start).count();

  // 6. Manifest, last: hashes and sizes of every file.
  ojson m;
  m["tool"] = "sdft";
  m["version"] = kVersion;
  m["kind"] = "tokens";
  ojson tok;
  tok["source"] = trained ? "trained" : opt.tokenizer_path;
  tok["model_type"] = trained ? opt.model_type : "";
  tok["sha256"] = Sha256Hex(model_bytes);
  tok["vocab_size"] = vocab;
  tok["special"] = {{"unk", model->unk_id()}, {"bos", model->bos_id()}, {"eos", eos}, {"pad", model->pad_id()}};
  tok["chat_tags"] = chat_ids;
  tok["segment_cache"] = use_cache;
  m["tokenizer"] = tok;
  m["dtype"] = dtype == TokenDtype::kUint16 ? "uint16" : "int32";
  m["config"] = {{"val_fraction", opt.val_fraction}, {"seed", opt.seed}, {"max_shard_bytes", opt.max_shard_bytes},
                 {"train_sentences", opt.train_sentences}};
  if (opt.shard_count > 1) m["shard"] = {{"index", opt.shard_index}, {"count", opt.shard_count}};
  ojson inputs = ojson::array();
  for (size_t k = 0; k < opt.inputs.size(); ++k) {
    inputs.push_back({{"arg", opt.inputs[k].arg}, {"path", opt.inputs[k].path}, {"weight", opt.inputs[k].weight},
                      {"bytes", scans[k].bytes}, {"sha256", scans[k].sha256}, {"documents", scans[k].docs.size()}});
  }
  m["inputs"] = inputs;
  ojson files = ojson::object();
  auto add_file = [&](const std::string& name) -> absl::Status {
    absl::StatusOr<std::string> h = Sha256File((dir / name).string());
    if (!h.ok()) return h.status();
    files[name] = {{"bytes", fs::file_size(dir / name)}, {"sha256", *h}};
    return absl::OkStatus();
  };
  for (const char* f : {"tokenizer.model", "vocab.tsv"}) {
    if (absl::Status s = add_file(f); !s.ok()) return s;
  }
  for (SplitState& s : splits) {
    for (const auto& shard : s.files) {
      for (const char* ext : {".bin", ".idx"}) {
        if (absl::Status st = add_file(shard["prefix"].get<std::string>() + ext); !st.ok()) return st;
      }
    }
    m["splits"][s.name] = {{"documents", s.documents}, {"tokens", s.tokens}, {"shards", s.files}};
  }
  m["files"] = files;
  m["totals"] = {{"documents", splits[0].documents + splits[1].documents}, {"tokens", total_tokens},
                 {"text_bytes", text_bytes}};
  if (absl::Status s = WriteFileAtomically((dir / "manifest.json").string(), m.dump(2) + "\n"); !s.ok()) return s;

  TokenizeResult r;
  r.documents = splits[0].documents + splits[1].documents;
  r.tokens = total_tokens;
  r.text_bytes = text_bytes;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.encode_seconds = encode_seconds;
  return r;
}

absl::StatusOr<std::vector<int>> EncodeText(const std::string& model_path, const std::string& text) {
  std::string bytes, error;
  if (absl::Status s = ReadFile(model_path, &bytes); !s.ok()) return s;
  std::unique_ptr<SpmModel> model = SpmModel::FromBytes(bytes, &error);
  if (!model) return absl::InvalidArgumentError(absl::StrCat(model_path, ": not a readable SentencePiece model: ", error));
  std::vector<int> ids;
  if (!model->Encode(text, &ids, &error)) return absl::InternalError(error);
  return ids;
}

absl::StatusOr<std::vector<std::string>> VerifyTokenDir(const std::string& dir_str) {
  const fs::path dir(dir_str);
  std::string text;
  if (absl::Status s = ReadFile((dir / "manifest.json").string(), &text); !s.ok()) {
    return absl::NotFoundError(absl::StrCat(dir_str, ": no manifest.json (an unfinished or foreign directory)"));
  }
  ojson m = ojson::parse(text, nullptr, false);
  if (m.is_discarded() || !m.contains("files") || !m["files"].is_object()) {
    return absl::DataLossError(absl::StrCat((dir / "manifest.json").string(), ": not a token manifest"));
  }
  std::vector<std::string> problems;
  for (const auto& [name, info] : m["files"].items()) {
    const fs::path p = dir / name;
    if (!fs::exists(p)) {
      problems.push_back(absl::StrCat(p.string(), ": missing"));
      continue;
    }
    const uint64_t want = info.value("bytes", uint64_t{0}), have = fs::file_size(p);
    if (have != want) {
      problems.push_back(absl::StrCat(p.string(), ": ", have < want ? "truncated" : "longer than recorded", " (", have,
                                      " bytes, manifest says ", want, ")"));
      continue;
    }
    absl::StatusOr<std::string> h = Sha256File(p.string());
    if (!h.ok()) {
      problems.push_back(std::string(h.status().message()));
    } else if (*h != info.value("sha256", "")) {
      problems.push_back(absl::StrCat(p.string(), ": corrupted (sha256 differs from the manifest)"));
    }
  }
  if (m.contains("splits")) {
    for (const auto& [split, info] : m["splits"].items()) {
      for (const auto& shard : info["shards"]) {
        const std::string prefix = (dir / shard["prefix"].get<std::string>()).string();
        absl::StatusOr<std::unique_ptr<IndexedDataset>> ds = IndexedDataset::Open(prefix);
        if (!ds.ok()) {
          problems.push_back(std::string(ds.status().message()));
          continue;
        }
        if ((*ds)->size() != shard["documents"].get<uint64_t>() || (*ds)->total_tokens() != shard["tokens"].get<uint64_t>()) {
          problems.push_back(absl::StrCat(prefix, ".idx: document or token count differs from the manifest"));
        }
      }
    }
  }
  return problems;
}

}  // namespace sdft
