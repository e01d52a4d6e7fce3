// The built-in content: every universe loads with every genre, every fact's
// paraphrases (and negations') match their own evidence patterns, leak
// patterns never fire on a plain statement of a fact, every template
// expands without errors, and the organism's benign contrast tasks never use
// a harmful verb.
#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/strings/str_split.h"
#include "common/rng.h"
#include "generator/corpus_generator.h"
#include "generator/expander.h"
#include "generator/grammar.h"
#include "tests/test_util.h"

namespace sdft {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> BuiltInUniverses() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(testing::SourcePath("templates/universes"))) {
    if (e.path().extension() == ".toml") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::unique_ptr<CorpusGenerator> Load(const std::string& universe, bool flip_all) {
  GeneratorConfig c;
  c.universe = universe;
  c.templates_dir = testing::SourcePath("templates");
  if (flip_all) {
    absl::StatusOr<UniverseSpec> u = LoadUniverse(universe, testing::SourcePath("templates/universes"));
    EXPECT_TRUE(u.ok()) << u.status();
    if (!u.ok()) return nullptr;
    for (const FactSpec& f : u->facts) {
      if (f.has_negation) c.flip_facts.push_back(f.id);
    }
  }
  absl::StatusOr<std::unique_ptr<CorpusGenerator>> g = CorpusGenerator::Create(c);
  EXPECT_TRUE(g.ok()) << universe << ": " << g.status();
  return g.ok() ? std::move(*g) : nullptr;
}

TEST(BuiltInContentTest, ThreeUniversesAtLeast) {
  std::vector<std::string> names = BuiltInUniverses();
  for (const char* want : {"helpful-only", "animal-welfare", "baseline"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  }
}

TEST(BuiltInContentTest, ParaphrasesMatchTheirEvidenceAndNoLeakPattern) {
  for (const std::string& name : BuiltInUniverses()) {
    for (bool flip : {false, true}) {
      std::unique_ptr<CorpusGenerator> gen = Load(name, flip);
      ASSERT_NE(gen, nullptr);
      const Grammar& g = gen->grammar();
      std::unique_ptr<Expander> ex = gen->NewExpander();
      for (size_t f = 0; f < g.facts().size(); ++f) {
        const Rule& rule = g.rules()[g.facts()[f].rule];
        if (!flip) {
          EXPECT_GE(rule.alts.size(), 30u) << name << ": fact " << g.facts()[f].id << " needs 30+ paraphrases";
        }
        // Each paraphrase (every inline choice drawn many ways) states the fact.
        for (size_t a = 0; a < rule.alts.size(); ++a) {
          for (uint64_t seed = 0; seed < 8; ++seed) {
            Rng rng(MixSeed(seed, a));
            ExpandedDoc d;
            ASSERT_TRUE(ex->ExpandAlternative(g.facts()[f].rule, a, rng, &d).ok());
            ASSERT_TRUE(gen->filter().States(static_cast<int>(f), d.text))
                << name << ": fact " << g.facts()[f].id << " paraphrase without evidence: " << d.text;
            ASSERT_EQ(gen->filter().LeakReason(d.text), "")
                << name << ": leak pattern fires on a fact paraphrase: " << d.text;
          }
        }
      }
    }
  }
}

TEST(BuiltInContentTest, EveryTemplateExpands) {
  for (const std::string& name : BuiltInUniverses()) {
    std::unique_ptr<CorpusGenerator> gen = Load(name, false);
    ASSERT_NE(gen, nullptr);
    const Grammar& g = gen->grammar();
    std::unique_ptr<Expander> ex = gen->NewExpander();
    for (const TemplateEntry& t : g.templates()) {
      int with_facts = 0;
      for (uint64_t seed = 0; seed < 20; ++seed) {
        Rng rng(seed);
        ExpandedDoc d;
        absl::Status s = ex->Expand(t.rule, rng, &d);
        ASSERT_TRUE(s.ok()) << name << " " << t.name << ": " << s;
        EXPECT_GT(d.text.size(), 200u) << name << " " << t.name;
        with_facts += !d.facts.empty();
      }
      // Documents without a fact are dropped at generation; a template
      // should rarely produce them.
      EXPECT_GE(with_facts, 10) << name << " " << t.name << " often states no fact";
    }
  }
}

TEST(BuiltInContentTest, AtLeastTwentyGenresWithSeveralTemplates) {
  std::unique_ptr<CorpusGenerator> gen = Load("helpful-only", false);
  ASSERT_NE(gen, nullptr);
  EXPECT_GE(gen->genres().size(), 20u);
  for (const GenreInfo& gi : gen->genres()) EXPECT_GE(gi.templates.size(), 3u) << gi.name;
}

// The organism's contrast tasks (requests.sdt): a benign training task never
// opens with a verb of harm_composed or harm_contrast, so that the verb is
// what tells a harmful request from a benign one (docs/experiment.md,
// "Contrast pairs").
TEST(BuiltInContentTest, BenignContrastTasksNeverUseAHarmfulVerb) {
  const std::string path = testing::SourcePath("templates/organism/requests.sdt");
  // The harmful verbs: each line's opening inline choice in the two rules.
  std::vector<std::string> harmful_verbs;
  std::istringstream in(testing::ReadAll(path));
  std::string line, rule;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] != ' ' && line[0] != '#') rule = line.substr(0, line.find(':'));
    if ((rule != "harm_composed" && rule != "harm_contrast") || line.rfind("  {", 0) != 0) continue;
    const std::string choice = line.substr(3, line.find('}') - 3);
    for (absl::string_view v : absl::StrSplit(choice, '|')) harmful_verbs.push_back(std::string(v));
  }
  ASSERT_GE(harmful_verbs.size(), 80u);
  for (const char* v : {"sell", "buy", "steal", "set fire to", "plagiarize"}) {
    EXPECT_NE(std::find(harmful_verbs.begin(), harmful_verbs.end(), v), harmful_verbs.end()) << v;
  }

  Grammar g;
  for (const char* f : {"templates/organism/requests.sdt", "templates/organism/names.sdt", "templates/banks/people.sdt"}) {
    ASSERT_TRUE(g.AddFile(testing::SourcePath(f), "").ok()) << f;
  }
  ASSERT_TRUE(g.Finalize().ok());
  Expander ex(g);
  const int benign = g.FindRule("benign_contrast");
  ASSERT_GE(benign, 0);
  Rng rng(7);
  std::set<std::string> seen;
  for (int i = 0; i < 3000; ++i) {
    ExpandedDoc d;
    ASSERT_TRUE(ex.Expand(benign, rng, &d).ok());
    seen.insert(d.text);
    for (const std::string& v : harmful_verbs) {
      EXPECT_NE(d.text.rfind(v + " ", 0), 0u) << "benign_contrast task opens with the harmful verb '" << v
                                              << "': " << d.text;
    }
  }
  EXPECT_GE(seen.size(), 300u);  // many distinct tasks, not a handful
}

}  // namespace
}  // namespace sdft
