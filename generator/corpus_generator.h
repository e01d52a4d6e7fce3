// CorpusGenerator turns (universe, templates, seed) into documents: document i
// is a pure function of (seed, i, universe, templates), drawn with its own RNG,
// so any slice of a run can be produced anywhere, by any number of threads.
#ifndef SDFT_GENERATOR_CORPUS_GENERATOR_H_
#define SDFT_GENERATOR_CORPUS_GENERATOR_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "generator/expander.h"
#include "generator/grammar.h"
#include "generator/universe_spec.h"

namespace sdft {

struct GeneratorConfig {
  std::string universe = "helpful-only";  // name in templates/universes, or a path
  std::string templates_dir;              // holds universes/, genres/, banks/
  uint64_t seed = 1;
  std::vector<std::string> genres;        // only these genres (empty: the universe's choice)
  ExpandLimits limits;
};

struct GenreInfo {
  std::string name;
  double weight = 1.0;
  std::vector<int> templates;  // indices into Grammar::templates()
};

class CorpusGenerator {
 public:
  static absl::StatusOr<std::unique_ptr<CorpusGenerator>> Create(const GeneratorConfig& config);

  struct Doc {
    uint64_t id = 0;
    int genre = -1;     // index into genres()
    int template_index = -1;  // index into grammar().templates()
    ExpandedDoc expanded;
  };
  // Generates document `id` with the given (per-thread) expander.
  absl::Status Generate(uint64_t id, Expander& expander, Doc* doc) const;
  // Appends document `doc` as one JSON line (with trailing newline).
  void AppendJsonLine(const Doc& doc, std::string* out) const;

  std::unique_ptr<Expander> NewExpander() const;

  const GeneratorConfig& config() const { return config_; }
  const UniverseSpec& universe() const { return universe_; }
  const Grammar& grammar() const { return grammar_; }
  const std::vector<GenreInfo>& genres() const { return genres_; }
  // Every file that shapes the output (templates and universe chain), sorted.
  std::vector<std::string> InputFiles() const;

 private:
  CorpusGenerator() = default;
  GeneratorConfig config_;
  UniverseSpec universe_;
  Grammar grammar_;
  std::vector<GenreInfo> genres_;
  std::vector<double> genre_cum_;
};

// Finds the templates directory: $SDFT_TEMPLATES, then next to the executable
// (build/bin/../../templates, or ../share/sdft/templates), then ./templates.
std::string DefaultTemplatesDir();

}  // namespace sdft

#endif  // SDFT_GENERATOR_CORPUS_GENERATOR_H_
