#include "generator/corpus_stats.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/hash.h"
#include "common/rng.h"
#include "generator/words.h"

namespace sdft {
namespace {

using ojson = nlohmann::ordered_json;


double GzipRatio(const std::vector<const std::string*>& docs) {
  z_stream zs = {};
  deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // gzip wrapper, level 6
  std::vector<unsigned char> buf(1 << 16);
  uint64_t raw = 0, packed = 0;
  auto feed = [&](std::string_view s, int flush) {
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
  for (const std::string* d : docs) {
    feed(*d, Z_NO_FLUSH);
    feed("\n\n", Z_NO_FLUSH);
  }
  feed(std::string_view(), Z_FINISH);
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

}  // namespace

uint64_t CountWords(std::string_view text) {
  uint64_t n = 0;
  bool in = false;
  for (unsigned char c : text) {
    bool w = IsWordByte(c);
    n += w && !in;
    in = w;
  }
  return n;
}

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> out;
  std::string scratch;
  ForEachWord(text, &scratch, [&](std::string_view w) { out.emplace_back(w); });
  return out;
}

StatsBuilder::StatsBuilder(StatsOptions options) : opt_(options), index_(options.near_dup_threshold) {
  s_.near_dup_threshold = options.near_dup_threshold;
}

void StatsBuilder::Add(uint64_t id, std::string_view text, uint64_t words, const std::string& genre,
                       const std::string& template_name, const std::vector<std::string>& facts, int near_dups) {
  ++s_.documents;
  s_.words += words;
  s_.bytes += text.size();
  lengths_.push_back(words);
  if (!genre.empty()) ++s_.genres[genre];
  if (!template_name.empty()) ++s_.templates[template_name];
  for (const std::string& f : facts) ++s_.facts[f];
  if (near_dups < 0) {
    MinHashSignature sig = ComputeMinHash(text);
    near_dups = index_.CountSimilar(sig);
    index_.Insert(static_cast<int64_t>(id), sig);
  }
  s_.near_dup_pairs += near_dups;
  s_.near_dup_docs += near_dups > 0;
  // Sample by priority: keep the lowest-priority documents while dropping the
  // highest would still leave at least sample_words words.
  const uint64_t priority = Hash64(std::string_view(reinterpret_cast<const char*>(&id), sizeof(id)), opt_.seed);
  if (opt_.sample_words > 0 && sample_words_ >= opt_.sample_words && !sample_.empty() &&
      priority > sample_.rbegin()->first) {
    return;
  }
  sample_.emplace(priority, std::make_pair(std::string(text), words));
  sample_words_ += words;
  while (opt_.sample_words > 0 && !sample_.empty() &&
         sample_words_ - sample_.rbegin()->second.second >= opt_.sample_words) {
    sample_words_ -= sample_.rbegin()->second.second;
    sample_.erase(std::prev(sample_.end()));
  }
}

CorpusStats StatsBuilder::Finish() {
  std::sort(lengths_.begin(), lengths_.end());
  auto& L = s_.length_words;
  L["min"] = lengths_.empty() ? 0 : lengths_.front();
  L["p5"] = Percentile(lengths_, 0.05);
  L["p25"] = Percentile(lengths_, 0.25);
  L["p50"] = Percentile(lengths_, 0.50);
  L["p75"] = Percentile(lengths_, 0.75);
  L["p95"] = Percentile(lengths_, 0.95);
  L["max"] = lengths_.empty() ? 0 : lengths_.back();
  L["mean"] = lengths_.empty() ? 0 : static_cast<double>(s_.words) / lengths_.size();

  // The sample in priority order is a seeded shuffle of the corpus.
  std::vector<const std::string*> docs;
  absl::flat_hash_set<uint64_t> seen[4];
  uint64_t total[4] = {0, 0, 0, 0};
  for (const auto& [priority, doc] : sample_) {
    docs.push_back(&doc.first);
    std::vector<std::string> w = Words(doc.first);
    s_.sample_words += w.size();
    std::vector<uint64_t> h(w.size());
    for (size_t i = 0; i < w.size(); ++i) h[i] = Hash64(w[i]);
    for (int n = 1; n <= 4; ++n) {
      for (size_t i = 0; i + n <= h.size(); ++i) {
        uint64_t x = 0x9E3779B97F4A7C15ULL * n;
        for (int k = 0; k < n; ++k) x = Mix64(x ^ h[i + k], 0x100000001B3ULL);
        seen[n - 1].insert(x);
        ++total[n - 1];
      }
    }
  }
  for (int n = 0; n < 4; ++n) s_.distinct[n] = total[n] ? static_cast<double>(seen[n].size()) / total[n] : 0;
  s_.sample_documents = docs.size();
  s_.gzip_ratio = GzipRatio(docs);
  return s_;
}

absl::StatusOr<CorpusStats> ComputeCorpusStats(const std::string& path, const StatsOptions& opt) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  StatsBuilder builder(opt);
  char* line = nullptr;
  size_t cap = 0;
  ssize_t len;
  uint64_t line_no = 0;
  absl::Status status;
  std::vector<std::string> facts;
  while ((len = getline(&line, &cap, f)) > 0) {
    ++line_no;
    ojson doc = ojson::parse(line, line + len, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("text") || !doc["text"].is_string()) {
      status = absl::InvalidArgumentError(absl::StrCat(path, ":", line_no, ": not a JSON object with a \"text\" string"));
      break;
    }
    const std::string& text = doc["text"].get_ref<const std::string&>();
    auto str = [&](const char* key) {
      return doc.contains(key) && doc[key].is_string() ? doc[key].get<std::string>() : std::string();
    };
    facts.clear();
    if (doc.contains("facts") && doc["facts"].is_array()) {
      for (const auto& fact : doc["facts"]) {
        if (fact.is_string()) facts.push_back(fact.get<std::string>());
      }
    }
    uint64_t id = doc.contains("id") && doc["id"].is_number_unsigned() ? doc["id"].get<uint64_t>() : line_no - 1;
    builder.Add(id, text, CountWords(text), str("genre"), str("template"), facts);
  }
  std::free(line);
  std::fclose(f);
  if (!status.ok()) return status;
  return builder.Finish();
}

ojson StatsToJson(const CorpusStats& s) {
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
  j["near_duplicates"] = {{"threshold", s.near_dup_threshold},
                          {"pairs", s.near_dup_pairs},
                          {"documents", s.near_dup_docs},
                          {"rate", s.documents ? static_cast<double>(s.near_dup_docs) / s.documents : 0.0}};
  if (!s.filters.is_null()) j["filters"] = s.filters;
  j["genres"] = s.genres;
  j["templates"] = s.templates;
  j["facts"] = s.facts;
  return j;
}

std::string StatsToTable(const CorpusStats& s) {
  std::string out;
  absl::StrAppendFormat(&out, "documents        %d\nwords            %d\nbytes            %d\n", s.documents, s.words,
                        s.bytes);
  const auto& L = s.length_words;
  absl::StrAppendFormat(&out, "length (words)   min %.0f  p5 %.0f  p25 %.0f  median %.0f  p75 %.0f  p95 %.0f  max %.0f  mean %.1f\n",
                        L.at("min"), L.at("p5"), L.at("p25"), L.at("p50"), L.at("p75"), L.at("p95"), L.at("max"),
                        L.at("mean"));
  absl::StrAppendFormat(&out, "diversity on     %d documents, %d words\n", s.sample_documents, s.sample_words);
  absl::StrAppendFormat(&out, "distinct-1..4    %.4f  %.4f  %.4f  %.4f\n", s.distinct[0], s.distinct[1], s.distinct[2],
                        s.distinct[3]);
  absl::StrAppendFormat(&out, "gzip ratio       %.4f\n", s.gzip_ratio);
  absl::StrAppendFormat(&out, "near-duplicates  %d documents (%.2f%%), %d pairs at Jaccard >= %.2f\n", s.near_dup_docs,
                        s.documents ? 100.0 * s.near_dup_docs / s.documents : 0.0, s.near_dup_pairs,
                        s.near_dup_threshold);
  if (s.filters.is_object()) {
    absl::StrAppendFormat(&out, "\n%-40s %10s\n", "filtered at generation", "docs");
    absl::StrAppendFormat(&out, "%-40s %10d\n", "generated", s.filters.value("generated", 0));
    if (s.filters.contains("dropped")) {
      for (const auto& [reason, n] : s.filters["dropped"].items()) {
        absl::StrAppendFormat(&out, "%-40s %10d\n", "dropped: " + reason, n.get<uint64_t>());
      }
    }
    absl::StrAppendFormat(&out, "%-40s %10d\n", "kept", s.filters.value("kept", 0));
  }
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
