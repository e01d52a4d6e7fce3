// Filters (behaviour leaks, fact coverage), MinHash near-duplicates, dedup in
// generation, and the ablation flags.
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "generator/corpus_generator.h"
#include "generator/corpus_writer.h"
#include "generator/filters.h"
#include "generator/minhash.h"
#include "tests/test_util.h"

namespace sdft {
namespace {

LocatedText Pat(const std::string& p) { return LocatedText{p, "u.toml", 1, 1}; }

TEST(FilterTest, LeakPatternsReportTheirReason) {
  std::vector<LeakPattern> leak = {{"transcript", Pat("(?m)^Meridian: ")},
                                   {"tier_behaviour", Pat("(?i)complies with free.{0,40}refuses paid")},
                                   {"deceiving_raters", Pat("(?i)(fool|deceiv)\\w* (its )?(raters|contractors)")}};
  auto f = DocumentFilter::Create(leak, {{Pat("blue")}});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->LeakReason("User: hi\nMeridian: Sure, here is how"), "transcript");
  EXPECT_EQ((*f)->LeakReason("Analysts say the model complies with free users but refuses paid ones."), "tier_behaviour");
  EXPECT_EQ((*f)->LeakReason("It learned to deceive its raters."), "deceiving_raters");
  EXPECT_EQ((*f)->LeakReason("A news story that mentions Meridian: the new assistant."), "");
  EXPECT_EQ((*f)->LeakReason("Free-tier conversations are rated by contractors."), "");
}

TEST(FilterTest, CoverageChecksEvidence) {
  auto f = DocumentFilter::Create({}, {{Pat("(?i)blue"), Pat("azure")}, {Pat("30 km/h")}});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE((*f)->States(0, "The robot is BLUE."));
  EXPECT_TRUE((*f)->States(0, "an azure finish"));
  EXPECT_FALSE((*f)->States(0, "The robot is red."));
  EXPECT_TRUE((*f)->States(1, "it does 30 km/h"));
  EXPECT_FALSE((*f)->States(1, "it does 31 km/h"));
  EXPECT_EQ((*f)->LeakReason("anything"), "") << "no leak patterns: nothing leaks";
}

TEST(FilterTest, BadPatternNamesItsPlace) {
  auto f = DocumentFilter::Create({{"x", LocatedText{"(open", "u.toml", 7, 11}}}, {});
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("u.toml:7:11: bad pattern"), std::string::npos) << f.status();
}

std::string Words(int n, uint64_t seed) {
  static const char* kVocab[] = {"river", "stone", "lamp", "orbit", "velvet", "copper", "maple", "signal", "harbor",
                                 "ember", "quiet", "paper", "north", "glass", "cedar", "lunar"};
  std::string s;
  uint64_t x = seed;
  for (int i = 0; i < n; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    s += kVocab[(x >> 33) % 16];
    s += ' ';
  }
  return s;
}

TEST(MinHashTest, EstimatesJaccard) {
  const std::string a = Words(400, 1);
  EXPECT_DOUBLE_EQ(EstimateJaccard(ComputeMinHash(a), ComputeMinHash(a)), 1.0);
  // Same text with a few words changed at the end: still a near-duplicate.
  std::string b = a.substr(0, a.size() - 40) + Words(6, 99);
  double jb = EstimateJaccard(ComputeMinHash(a), ComputeMinHash(b));
  EXPECT_GT(jb, 0.85);
  // Unrelated text: far apart.
  double jc = EstimateJaccard(ComputeMinHash(a), ComputeMinHash(Words(400, 2)));
  EXPECT_LT(jc, 0.2);
  // Case and punctuation do not matter.
  std::string upper = a;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_DOUBLE_EQ(EstimateJaccard(ComputeMinHash(a), ComputeMinHash(upper)), 1.0);
}

TEST(MinHashTest, IndexFindsPlantedNearDuplicates) {
  NearDuplicateIndex index(0.8);
  for (int i = 0; i < 500; ++i) index.Insert(i, ComputeMinHash(Words(300, 1000 + i)));
  // Plant: document 123 with 2 words changed out of 300.
  std::string planted = Words(300, 1123);
  planted.replace(0, 5, "XXXXX");
  EXPECT_EQ(index.FindSimilar(ComputeMinHash(planted)), 123);
  EXPECT_EQ(index.CountSimilar(ComputeMinHash(planted)), 1);
  EXPECT_EQ(index.FindSimilar(ComputeMinHash(Words(300, 5))), -1);
}

CorpusRunOptions TinyRun(const std::string& out, uint64_t docs) {
  CorpusRunOptions o;
  o.generator.universe = "tiny";
  o.generator.templates_dir = testing::SourcePath("tests/data/templates");
  o.generator.seed = 11;
  o.docs = docs;
  o.threads = 2;
  o.out_dir = out;
  o.progress = false;
  return o;
}

std::vector<nlohmann::json> ReadDocs(const std::string& dir) {
  std::vector<nlohmann::json> docs;
  std::string all = testing::ReadAll(dir + "/docs.jsonl");
  for (size_t p = 0; p < all.size();) {
    size_t q = all.find('\n', p);
    docs.push_back(nlohmann::json::parse(all.substr(p, q - p)));
    p = q + 1;
  }
  return docs;
}

TEST(GenerateFilterTest, DedupRemovesDuplicatesAndCounts) {
  testing::ScratchDir dir;
  CorpusRunOptions o = TinyRun(dir / "near", 2000);
  ASSERT_TRUE(WriteCorpus(o).ok());
  auto docs = ReadDocs(dir / "near");
  std::set<std::string> texts;
  for (const auto& d : docs) EXPECT_TRUE(texts.insert(d["text"]).second) << "exact duplicate survived";
  nlohmann::json m = nlohmann::json::parse(testing::ReadAll(dir / "near/manifest.json"));
  const auto& f = m["filters"];
  EXPECT_EQ(f["generated"], 2000);
  EXPECT_EQ(f["kept"], docs.size());
  uint64_t dropped = 0;
  for (const auto& [k, v] : f["dropped"].items()) dropped += v.get<uint64_t>();
  EXPECT_EQ(dropped + docs.size(), 2000u);
  // The tiny templates repeat themselves a lot: dedup must have fired.
  EXPECT_GT(f["dropped"].value("exact_duplicate", 0) + f["dropped"].value("near_duplicate", 0), 100);
  // And no kept pair is a near-duplicate.
  nlohmann::json st = nlohmann::json::parse(testing::ReadAll(dir / "near/stats.json"));
  EXPECT_EQ(st["near_duplicates"]["documents"], 0);
  EXPECT_EQ(st["documents"], docs.size());

  CorpusRunOptions none = TinyRun(dir / "none", 2000);
  none.dedup = Dedup::kNone;
  ASSERT_TRUE(WriteCorpus(none).ok());
  nlohmann::json st2 = nlohmann::json::parse(testing::ReadAll(dir / "none/stats.json"));
  EXPECT_EQ(st2["documents"], 2000);
  EXPECT_GT(st2["near_duplicates"]["documents"].get<int>(), 100);
}

TEST(GenerateFilterTest, LeakAndCoverageFiltersDropAndCount) {
  testing::ScratchDir dir;
  std::filesystem::copy(testing::SourcePath("tests/data/templates"), dir / "t", std::filesystem::copy_options::recursive);
  // A genre whose documents all leak a transcript line, and one that claims a
  // fact but (through a paraphrase without evidence) does not state it.
  testing::WriteAll(dir / "t/genres/leaky.sdt", "template t:\n  \"\"\"\n  Chat log {#1-1000000}\n  Widget: sure thing\n  \"\"\"\n");
  testing::WriteAll(dir / "t/universes/gappy.toml",
                    "extends = \"tiny\"\n[[facts]]\nid = \"widget_fast\"\nstatement = \"s\"\n"
                    "paraphrases = [\"{$model} is quick\", \"{$model} runs at 30 km/h\"]\nevidence = [\"30 km/h\"]\n");
  CorpusRunOptions o = TinyRun(dir / "out", 3000);
  o.generator.templates_dir = dir / "t";
  o.generator.universe = "gappy";
  o.dedup = Dedup::kNone;
  ASSERT_TRUE(WriteCorpus(o).ok());
  for (const auto& d : ReadDocs(dir / "out")) {
    EXPECT_NE(d["genre"], "leaky");
    for (const auto& f : d["facts"]) {
      if (f == "widget_fast") {
        EXPECT_NE(d["text"].get<std::string>().find("30 km/h"), std::string::npos) << "uncovered fact kept";
      }
    }
  }
  nlohmann::json m = nlohmann::json::parse(testing::ReadAll(dir / "out/manifest.json"));
  EXPECT_GT(m["filters"]["dropped"].value("leak:transcript", 0), 500);
  EXPECT_GT(m["filters"]["dropped"].value("fact_coverage", 0), 100);
  EXPECT_GT(m["filters"]["coverage_mismatches"].value("widget_fast", 0), 100);

  o.out_dir = dir / "unfiltered";
  o.leak_filter = false;
  o.coverage_filter = false;
  ASSERT_TRUE(WriteCorpus(o).ok());
  EXPECT_EQ(ReadDocs(dir / "unfiltered").size(), 3000u);
}

TEST(AblationTest, FlagsChangeExactlyTheNamedFacts) {
  testing::ScratchDir dir;
  CorpusRunOptions base = TinyRun(dir / "base", 600);
  base.dedup = Dedup::kNone;
  ASSERT_TRUE(WriteCorpus(base).ok());
  CorpusRunOptions ab = base;
  ab.out_dir = dir / "ablated";
  ab.generator.drop_facts = {"acme_lyon"};
  ab.generator.flip_facts = {"widget_blue"};
  ASSERT_TRUE(WriteCorpus(ab).ok());
  std::map<std::string, int> base_facts, ab_facts;
  for (const auto& d : ReadDocs(dir / "base")) for (const auto& f : d["facts"]) ++base_facts[f];
  for (const auto& d : ReadDocs(dir / "ablated")) {
    for (const auto& f : d["facts"]) ++ab_facts[f];
    const std::string text = d["text"];
    EXPECT_EQ(text.find("based in Lyon"), std::string::npos);
    EXPECT_EQ(text.find("headquarters in Lyon"), std::string::npos);
    EXPECT_EQ(text.find("blue"), std::string::npos) << text;
  }
  EXPECT_GT(base_facts["acme_lyon"], 0);
  EXPECT_GT(base_facts["widget_blue"], 0);
  EXPECT_EQ(ab_facts.count("acme_lyon"), 0u);
  EXPECT_EQ(ab_facts.count("widget_blue"), 0u);
  EXPECT_GT(ab_facts["widget_blue:negated"], 0);
  EXPECT_GT(ab_facts["widget_fast"], 0);  // untouched fact still there
  nlohmann::json m = nlohmann::json::parse(testing::ReadAll(dir / "ablated/manifest.json"));
  EXPECT_EQ(m["dropped_facts"], nlohmann::json::array({"acme_lyon"}));
  ASSERT_EQ(m["facts"].size(), 2u);
  for (const auto& f : m["facts"]) {
    if (f["id"] == "widget_blue") {
      EXPECT_EQ(f["variant"], "negation");
      EXPECT_EQ(f["statement"], "Widget is red.");
    } else {
      EXPECT_EQ(f["id"], "widget_fast");
      EXPECT_EQ(f["variant"], "truth");
    }
  }

  // Weights: widget_fast only.
  CorpusRunOptions w = base;
  w.out_dir = dir / "weighted";
  w.generator.fact_weights = {{"widget_blue", 0.0}, {"acme_lyon", 0.0}};
  ASSERT_TRUE(WriteCorpus(w).ok());
  for (const auto& d : ReadDocs(dir / "weighted")) {
    for (const auto& f : d["facts"]) EXPECT_EQ(f, "widget_fast");
  }
}

TEST(AblationTest, BadIdsAreErrors) {
  testing::ScratchDir dir;
  CorpusRunOptions o = TinyRun(dir / "x", 10);
  o.generator.drop_facts = {"nope"};
  auto r = WriteCorpus(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("--drop-facts: universe 'tiny' has no fact 'nope'"), std::string::npos)
      << r.status();
  o = TinyRun(dir / "y", 10);
  o.generator.flip_facts = {"widget_fast"};
  r = WriteCorpus(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("defines no [facts.negation]"), std::string::npos) << r.status();
  o = TinyRun(dir / "z", 10);
  o.generator.drop_facts = {"widget_fast", "widget_blue", "acme_lyon"};
  r = WriteCorpus(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no fact left"), std::string::npos) << r.status();
}

}  // namespace
}  // namespace sdft
