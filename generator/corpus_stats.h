// Corpus statistics over a docs.jsonl: counts (documents, words, per genre,
// template and fact), length percentiles, distinct-1..4 (unique / total word
// n-grams) and the gzip compression ratio of the shuffled documents. Words are
// maximal runs of letters, digits and apostrophes, lowercased.
#ifndef SDFT_GENERATOR_CORPUS_STATS_H_
#define SDFT_GENERATOR_CORPUS_STATS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sdft {

struct StatsOptions {
  // When > 0, measure diversity on a random sample of whole documents
  // totalling about this many words (diversity falls with size, so compare
  // corpora at equal size). Counts always cover the whole corpus.
  uint64_t sample_words = 0;
  uint64_t seed = 1;
};

struct CorpusStats {
  uint64_t documents = 0, words = 0, bytes = 0;
  std::map<std::string, uint64_t> genres, templates, facts;
  // Word-count percentiles of documents.
  std::map<std::string, double> length_words;  // min p5 p25 p50 p75 p95 max mean
  // Diversity, on the sample (or the whole corpus).
  uint64_t sample_documents = 0, sample_words = 0;
  double distinct[4] = {0, 0, 0, 0};
  double gzip_ratio = 0;
};

// Lowercased words of `text` as defined above.
std::vector<std::string> Words(const std::string& text);

absl::StatusOr<CorpusStats> ComputeCorpusStats(const std::string& jsonl_path, const StatsOptions& options);
// Same, from documents' texts already in memory (genre etc. counts left empty).
CorpusStats ComputeTextStats(const std::vector<std::string>& texts, const StatsOptions& options);

std::string StatsToJson(const CorpusStats& s);
std::string StatsToTable(const CorpusStats& s);

}  // namespace sdft

#endif  // SDFT_GENERATOR_CORPUS_STATS_H_
