// UniverseSpec: a fictional world read from TOML (templates/universes/*.toml):
// the "universe context" paragraph, named entities (template variables like
// $lab), and key facts, each with paraphrase templates and RE2 evidence
// patterns that recognise a text stating it. A universe may `extends` another
// and override its entities and facts by id. See docs/universe-spec.md.
#ifndef SDFT_GENERATOR_UNIVERSE_SPEC_H_
#define SDFT_GENERATOR_UNIVERSE_SPEC_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace sdft {

// A string from the spec with where it was written.
struct LocatedText {
  std::string text;
  std::string file;
  int line = 0;
  int col = 0;
};

// What a text states: a fact, or its negation (for ablations).
struct FactVariant {
  std::string statement;
  std::vector<LocatedText> paraphrases;
  std::vector<LocatedText> evidence;  // RE2 patterns
};

struct FactSpec {
  std::string id;
  double weight = 1.0;
  FactVariant truth;
  bool has_negation = false;
  FactVariant negation;
  std::string file;  // where it was (last) defined
  int line = 0;
};

// A behaviour-leak filter pattern: documents matching it are dropped.
struct LeakPattern {
  std::string reason;  // e.g. "transcript", "tier_behaviour", "deceiving_raters"
  LocatedText pattern;  // RE2
};

struct UniverseSpec {
  std::string name;
  std::string description;
  std::string context;
  std::vector<std::string> files;  // the spec and what it extends, base first
  std::vector<std::pair<std::string, LocatedText>> entities;  // in definition order
  std::vector<FactSpec> facts;
  std::map<std::string, double> genre_weights;  // empty: every genre, equally
  std::vector<LeakPattern> leak;                // [[leak]]; a child's list replaces its base's

  const FactSpec* FindFact(const std::string& id) const;
  // OK if `id` names a fact; otherwise an error that lists the facts (for
  // ablations that name facts by id: --drop-facts, drop_facts, ...).
  absl::Status CheckFactId(const std::string& id) const;
};

// `name_or_path` is a file path (contains '/' or ends in .toml) or the name of
// a built-in universe in `universes_dir`. Errors name file:line:col.
absl::StatusOr<UniverseSpec> LoadUniverse(const std::string& name_or_path,
                                          const std::string& universes_dir);

}  // namespace sdft

#endif  // SDFT_GENERATOR_UNIVERSE_SPEC_H_
