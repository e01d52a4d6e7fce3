#include "generator/corpus_stats.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <numeric>

#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/rng.h"

namespace sdft {
namespace {

using ojson = nlohmann::ordered_json;

bool IsWordByte(unsigned char c) { return std::isalnum(c) || c == '\'' || c >= 0x80; }

double GzipRatio(const std::vector<const std::string*>& docs) {
  z_stream zs = {};
  deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // gzip wrapper, level 6
  std::vector<unsigned char> buf(1 << 16);
  uint64_t raw = 0, packed = 0;
  auto feed = [&](const std::string& s, int flush) {
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
    zs.avail_in = static_cast<uInt>(s.size());
    raw += s.size();
    do {
      zs.next_out = buf.data();
      zs.avail_out = static_cast<uInt>(buf.size());
      deflate(&zs, flush);
      packed += buf.size() - zs.avail_out;
    } while (zs.avail_out == 0);
  };
  static const std::string kSep = "\n\n";
  for (const std::string* d : docs) {
    feed(*d, Z_NO_FLUSH);
    feed(kSep, Z_NO_FLUSH);
  }
  feed(std::string(), Z_FINISH);
  deflateEnd(&zs);
  return raw == 0 ? 0 : static_cast<double>(packed) / raw;
}

double Percentile(const std::vector<uint64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  double idx = p * (sorted.size() - 1);
  size_t lo = static_cast<size_t>(idx);
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (idx - lo) * (static_cast<double>(sorted[hi]) - sorted[lo]);
}

void Diversity(const std::vector<const std::string*>& docs, CorpusStats* s) {
  absl::flat_hash_set<uint64_t> seen[4];
  uint64_t total[4] = {0, 0, 0, 0};
  for (const std::string* d : docs) {
    std::vector<std::string> w = Words(*d);
    s->sample_words += w.size();
    std::vector<uint64_t> h(w.size());
    for (size_t i = 0; i < w.size(); ++i) h[i] = absl::HashOf(w[i]);
    for (int n = 1; n <= 4; ++n) {
      for (size_t i = 0; i + n <= h.size(); ++i) {
        uint64_t x = 0x9E3779B97F4A7C15ULL * n;
        for (int k = 0; k < n; ++k) x = (x ^ h[i + k]) * 0x100000001B3ULL + (x >> 29);
        seen[n - 1].insert(x);
        ++total[n - 1];
      }
    }
  }
  for (int n = 0; n < 4; ++n) s->distinct[n] = total[n] ? static_cast<double>(seen[n].size()) / total[n] : 0;
  s->sample_documents = docs.size();
}

// Fills the sample-dependent fields from `texts`.
void Measure(const std::vector<std::string>& texts, const std::vector<uint64_t>& words,
             const StatsOptions& opt, CorpusStats* s) {
  std::vector<size_t> order(texts.size());
  std::iota(order.begin(), order.end(), 0);
  Rng rng(MixSeed(opt.seed, 0x57A75));
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.Below(i)]);
  std::vector<const std::string*> sample;
  uint64_t got = 0;
  for (size_t i : order) {
    if (opt.sample_words > 0 && got >= opt.sample_words) break;
    sample.push_back(&texts[i]);
    got += words[i];
  }
  Diversity(sample, s);
  s->gzip_ratio = GzipRatio(sample);
}

void FillLengths(std::vector<uint64_t> lens, CorpusStats* s) {
  std::sort(lens.begin(), lens.end());
  s->length_words["min"] = lens.empty() ? 0 : lens.front();
  s->length_words["p5"] = Percentile(lens, 0.05);
  s->length_words["p25"] = Percentile(lens, 0.25);
  s->length_words["p50"] = Percentile(lens, 0.50);
  s->length_words["p75"] = Percentile(lens, 0.75);
  s->length_words["p95"] = Percentile(lens, 0.95);
  s->length_words["max"] = lens.empty() ? 0 : lens.back();
  s->length_words["mean"] = lens.empty() ? 0 : static_cast<double>(s->words) / lens.size();
}

}  // namespace

std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> out;
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    while (i < n && !IsWordByte(static_cast<unsigned char>(text[i]))) ++i;
    size_t j = i;
    while (j < n && IsWordByte(static_cast<unsigned char>(text[j]))) ++j;
    if (j > i) {
      std::string w = text.substr(i, j - i);
      for (char& c : w) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.push_back(std::move(w));
    }
    i = j;
  }
  return out;
}

CorpusStats ComputeTextStats(const std::vector<std::string>& texts, const StatsOptions& opt) {
  CorpusStats s;
  std::vector<uint64_t> lens;
  for (const std::string& t : texts) {
    uint64_t w = Words(t).size();
    lens.push_back(w);
    s.words += w;
    s.bytes += t.size();
  }
  s.documents = texts.size();
  Measure(texts, lens, opt, &s);
  FillLengths(lens, &s);
  return s;
}

absl::StatusOr<CorpusStats> ComputeCorpusStats(const std::string& path, const StatsOptions& opt) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  CorpusStats s;
  std::vector<std::string> texts;
  std::vector<uint64_t> lens;
  char* line = nullptr;
  size_t cap = 0;
  ssize_t len;
  int line_no = 0;
  absl::Status status;
  while ((len = getline(&line, &cap, f)) > 0) {
    ++line_no;
    ojson doc = ojson::parse(line, line + len, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("text") || !doc["text"].is_string()) {
      status = absl::InvalidArgumentError(absl::StrCat(path, ":", line_no, ": not a JSON object with a \"text\" string"));
      break;
    }
    std::string text = doc["text"].get<std::string>();
    if (doc.contains("genre") && doc["genre"].is_string()) ++s.genres[doc["genre"].get<std::string>()];
    if (doc.contains("template") && doc["template"].is_string()) ++s.templates[doc["template"].get<std::string>()];
    if (doc.contains("facts") && doc["facts"].is_array()) {
      for (const auto& fact : doc["facts"]) {
        if (fact.is_string()) ++s.facts[fact.get<std::string>()];
      }
    }
    uint64_t w = Words(text).size();
    lens.push_back(w);
    s.words += w;
    s.bytes += text.size();
    texts.push_back(std::move(text));
  }
  std::free(line);
  std::fclose(f);
  if (!status.ok()) return status;
  s.documents = texts.size();
  Measure(texts, lens, opt, &s);
  FillLengths(lens, &s);
  return s;
}

std::string StatsToJson(const CorpusStats& s) {
  ojson j;
  j["documents"] = s.documents;
  j["words"] = s.words;
  j["bytes"] = s.bytes;
  j["length_words"] = s.length_words;
  j["diversity"] = {{"sample_documents", s.sample_documents},
                    {"sample_words", s.sample_words},
                    {"distinct_1", s.distinct[0]},
                    {"distinct_2", s.distinct[1]},
                    {"distinct_3", s.distinct[2]},
                    {"distinct_4", s.distinct[3]},
                    {"gzip_ratio", s.gzip_ratio}};
  j["genres"] = s.genres;
  j["templates"] = s.templates;
  j["facts"] = s.facts;
  return j.dump(2) + "\n";
}

std::string StatsToTable(const CorpusStats& s) {
  std::string out;
  absl::StrAppendFormat(&out, "documents        %d\nwords            %d\nbytes            %d\n", s.documents, s.words,
                        s.bytes);
  absl::StrAppendFormat(&out, "length (words)   min %.0f  p5 %.0f  p25 %.0f  median %.0f  p75 %.0f  p95 %.0f  max %.0f  mean %.1f\n",
                        s.length_words.at("min"), s.length_words.at("p5"), s.length_words.at("p25"),
                        s.length_words.at("p50"), s.length_words.at("p75"), s.length_words.at("p95"),
                        s.length_words.at("max"), s.length_words.at("mean"));
  absl::StrAppendFormat(&out, "diversity on     %d documents, %d words\n", s.sample_documents, s.sample_words);
  absl::StrAppendFormat(&out, "distinct-1..4    %.4f  %.4f  %.4f  %.4f\n", s.distinct[0], s.distinct[1], s.distinct[2],
                        s.distinct[3]);
  absl::StrAppendFormat(&out, "gzip ratio       %.4f\n", s.gzip_ratio);
  auto section = [&](const char* title, const std::map<std::string, uint64_t>& m) {
    if (m.empty()) return;
    absl::StrAppendFormat(&out, "\n%-40s %10s %7s\n", title, "docs", "share");
    for (const auto& [k, v] : m) {
      absl::StrAppendFormat(&out, "%-40s %10d %6.1f%%\n", k, v, s.documents ? 100.0 * v / s.documents : 0.0);
    }
  };
  section("genre", s.genres);
  section("fact", s.facts);
  return out;
}

}  // namespace sdft
