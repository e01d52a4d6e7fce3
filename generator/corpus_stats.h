// Corpus statistics: counts (documents, words, per genre, template and fact),
// length percentiles, distinct-1..4 (unique / total word n-grams within
// documents), the gzip ratio of the shuffled documents, near-duplicate pairs
// (MinHash estimate, Jaccard >= threshold on word 5-grams) and filter counts.
// Diversity falls as a corpus grows, so it is measured on a deterministic
// random sample of whole documents totalling about `sample_words` words.
// Words are maximal runs of letters, digits and apostrophes, lowercased.
#ifndef SDFT_GENERATOR_CORPUS_STATS_H_
#define SDFT_GENERATOR_CORPUS_STATS_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "generator/minhash.h"

namespace sdft {

struct StatsOptions {
  uint64_t sample_words = 450000;  // 0: measure diversity on every document
  uint64_t seed = 1;
  double near_dup_threshold = 0.8;
};

struct CorpusStats {
  uint64_t documents = 0, words = 0, bytes = 0;
  std::map<std::string, uint64_t> genres, templates, facts;
  std::map<std::string, double> length_words;  // min p5 p25 p50 p75 p95 max mean
  uint64_t sample_documents = 0, sample_words = 0;
  double distinct[4] = {0, 0, 0, 0};
  double gzip_ratio = 0;
  uint64_t near_dup_pairs = 0, near_dup_docs = 0;  // docs with an earlier near-duplicate
  double near_dup_threshold = 0.8;
  nlohmann::ordered_json filters;  // from the corpus manifest, when there is one
};

// Number of words in `text` (as defined above), and the words themselves.
uint64_t CountWords(std::string_view text);
std::vector<std::string> Words(std::string_view text);

// Accumulates statistics one document at a time, in document order.
class StatsBuilder {
 public:
  explicit StatsBuilder(StatsOptions options);
  // `words` from CountWords(text); `near_dups` = earlier documents similar to
  // this one (pass -1 to let the builder compute it from `text`).
  void Add(uint64_t id, std::string_view text, uint64_t words, const std::string& genre,
           const std::string& template_name, const std::vector<std::string>& facts, int near_dups = -1);
  CorpusStats Finish();

 private:
  StatsOptions opt_;
  CorpusStats s_;
  std::vector<uint64_t> lengths_;
  // The sample: documents with the smallest priority hash, just enough words.
  std::map<uint64_t, std::pair<std::string, uint64_t>> sample_;
  uint64_t sample_words_ = 0;
  NearDuplicateIndex index_;
};

absl::StatusOr<CorpusStats> ComputeCorpusStats(const std::string& jsonl_path, const StatsOptions& options);

nlohmann::ordered_json StatsToJson(const CorpusStats& s);
std::string StatsToTable(const CorpusStats& s);

}  // namespace sdft

#endif  // SDFT_GENERATOR_CORPUS_STATS_H_
