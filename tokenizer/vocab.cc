#include "tokenizer/vocab.h"

#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"

namespace sdft {

absl::StatusOr<Vocab> Vocab::Load(const std::string& path) {
  std::string all;
  if (absl::Status s = ReadFile(path, &all); !s.ok()) return s;
  Vocab v;
  int line_no = 0;
  for (size_t p = 0; p < all.size();) {
    size_t q = all.find('\n', p);
    if (q == std::string::npos) q = all.size();
    std::string line = all.substr(p, q - p);
    p = q + 1;
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    size_t t1 = line.find('\t'), t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string::npos || std::stoll(line.substr(0, t1)) != static_cast<long long>(v.pieces_.size())) {
      return absl::DataLossError(absl::StrCat(path, ":", line_no, ": expected 'id<TAB>type<TAB>piece' in id order"));
    }
    const std::string type = line.substr(t1 + 1, t2 - t1 - 1), esc = line.substr(t2 + 1);
    std::string piece;
    for (size_t k = 0; k < esc.size(); ++k) {
      if (esc[k] == '\\' && k + 1 < esc.size()) {
        char c = esc[++k];
        piece.push_back(c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c);
      } else {
        piece.push_back(esc[k]);
      }
    }
    std::string out;
    if (type == "byte" && piece.size() == 6) {
      out.push_back(static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
    } else if (type != "control" && type != "unknown") {
      for (size_t k = 0; k < piece.size(); ++k) {
        if (piece.compare(k, 3, "\xE2\x96\x81") == 0) { out.push_back(' '); k += 2; } else out.push_back(piece[k]);
      }
    }
    v.pieces_.push_back(std::move(out));
  }
  return v;
}

std::string Vocab::Decode(const std::vector<int64_t>& ids) const {
  std::string s;
  for (int64_t id : ids) {
    if (id >= 0 && static_cast<size_t>(id) < pieces_.size()) s += pieces_[id];
  }
  return s;
}

int64_t Vocab::Find(const std::string& text) const {
  for (size_t i = 0; i < pieces_.size(); ++i) {
    if (pieces_[i] == text) return static_cast<int64_t>(i);
  }
  return -1;
}

}  // namespace sdft
