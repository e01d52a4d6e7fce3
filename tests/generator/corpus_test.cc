// Corpus generation: determinism across thread counts, shard concatenation,
// manifest contents, output-directory safety, interruption, universes.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/interrupt.h"
#include "common/sha256.h"
#include "generator/corpus_writer.h"
#include "generator/universe_spec.h"
#include "tests/test_util.h"

namespace sdft {
namespace {

namespace fs = std::filesystem;

CorpusRunOptions TinyRun(const std::string& out, uint64_t docs, int threads) {
  CorpusRunOptions o;
  o.generator.universe = "tiny";
  o.generator.templates_dir = testing::SourcePath("tests/data/templates");
  o.generator.seed = 7;
  o.docs = docs;
  o.threads = threads;
  o.out_dir = out;
  o.progress = false;
  return o;
}

std::string Generate(const CorpusRunOptions& o) {
  absl::StatusOr<CorpusRunResult> r = WriteCorpus(o);
  EXPECT_TRUE(r.ok()) << r.status();
  return testing::ReadAll(o.out_dir + "/docs.jsonl");
}

TEST(CorpusTest, BytesDoNotDependOnThreadCount) {
  testing::ScratchDir dir;
  const std::string one = Generate(TinyRun(dir / "t1", 1000, 1));
  const std::string two = Generate(TinyRun(dir / "t2", 1000, 2));
  const std::string five = Generate(TinyRun(dir / "t5", 1000, 5));
  ASSERT_FALSE(one.empty());
  EXPECT_EQ(one, two);
  EXPECT_EQ(one, five);
  EXPECT_EQ(testing::ReadAll(dir / "t1/manifest.json"), testing::ReadAll(dir / "t5/manifest.json"));
}

TEST(CorpusTest, ShardsConcatenateToTheUnshardedRun) {
  testing::ScratchDir dir;
  // Dedup looks at earlier documents of the same output; shards are
  // deduplicated when merged, so compare with an undeduplicated run.
  CorpusRunOptions whole_run = TinyRun(dir / "whole", 999, 2);
  whole_run.dedup = Dedup::kNone;
  const std::string whole = Generate(whole_run);
  std::string joined;
  for (int i = 0; i < 4; ++i) {
    CorpusRunOptions o = TinyRun(dir / ("s" + std::to_string(i)), 999, 2);
    o.shard_index = i;
    o.shard_count = 4;
    o.dedup = Dedup::kNone;
    joined += Generate(o);
  }
  EXPECT_EQ(joined, whole);
}

TEST(CorpusTest, TemplateWeightsSteerTheChoice) {
  testing::ScratchDir dir;
  std::filesystem::copy(testing::SourcePath("tests/data/templates"), dir / "t", std::filesystem::copy_options::recursive);
  testing::WriteAll(dir / "t/genres/gamma.sdt", "template often ^9: often {fact}\ntemplate rarely: rarely {fact}\n");
  CorpusRunOptions o = TinyRun(dir / "out", 2000, 2);
  o.generator.templates_dir = dir / "t";
  o.generator.genres = {"gamma"};
  o.dedup = Dedup::kNone;
  ASSERT_TRUE(WriteCorpus(o).ok());
  nlohmann::json m = nlohmann::json::parse(testing::ReadAll(dir / "out/manifest.json"));
  const int often = m["counts"]["templates"]["gamma/often"], rarely = m["counts"]["templates"]["gamma/rarely"];
  EXPECT_GT(often, 1650);
  EXPECT_LT(often, 1950);
  EXPECT_EQ(often + rarely, 2000);
}

TEST(CorpusTest, DifferentSeedsDiffer) {
  testing::ScratchDir dir;
  CorpusRunOptions a = TinyRun(dir / "a", 50, 1), b = TinyRun(dir / "b", 50, 1);
  b.generator.seed = 8;
  EXPECT_NE(Generate(a), Generate(b));
}

TEST(CorpusTest, JsonlFieldsAndManifest) {
  testing::ScratchDir dir;
  CorpusRunOptions run = TinyRun(dir / "c", 200, 2);
  run.dedup = Dedup::kNone;
  const std::string jsonl = Generate(run);
  uint64_t id = 0, fact_mentions = 0;
  std::map<std::string, int> genres;
  for (size_t p = 0; p < jsonl.size();) {
    size_t q = jsonl.find('\n', p);
    nlohmann::json doc = nlohmann::json::parse(jsonl.substr(p, q - p));
    EXPECT_EQ(doc["id"].get<uint64_t>(), id++);
    EXPECT_EQ(doc["universe"], "tiny");
    EXPECT_EQ(doc["seed"], 7);
    EXPECT_TRUE(doc["genre"] == "alpha" || doc["genre"] == "beta");
    EXPECT_EQ(doc["template"].get<std::string>().rfind(doc["genre"].get<std::string>() + "/", 0), 0u);
    EXPECT_FALSE(doc["text"].get<std::string>().empty());
    for (const auto& f : doc["facts"]) {
      const std::string text = doc["text"];
      ++fact_mentions;
      if (f == "widget_blue") {
        EXPECT_NE(text.find("blue"), std::string::npos) << text;
      }
      if (f == "widget_fast") {
        EXPECT_NE(text.find("30 km/h"), std::string::npos) << text;
      }
    }
    ++genres[doc["genre"]];
    p = q + 1;
  }
  EXPECT_EQ(id, 200u);
  EXPECT_GT(fact_mentions, 200u);
  EXPECT_GT(genres["alpha"], 50);
  EXPECT_GT(genres["beta"], 50);

  nlohmann::json m = nlohmann::json::parse(testing::ReadAll(dir / "c/manifest.json"));
  EXPECT_EQ(m["kind"], "corpus");
  EXPECT_EQ(m["version"], kSdftVersion);
  EXPECT_EQ(m["config"]["seed"], 7);
  EXPECT_EQ(m["config"]["docs"], 200);
  EXPECT_EQ(m["counts"]["documents"], 200);
  EXPECT_EQ(m["counts"]["genres"]["alpha"], genres["alpha"]);
  EXPECT_EQ(m["files"]["docs.jsonl"]["sha256"], Sha256Hex(jsonl));
  EXPECT_EQ(m["files"]["docs.jsonl"]["bytes"], jsonl.size());
  EXPECT_EQ(m["inputs"]["files"].size(), 4u);  // 2 genres, 1 bank, 1 universe
}

TEST(CorpusTest, RefusesExistingDirectoryUnlessForced) {
  testing::ScratchDir dir;
  CorpusRunOptions o = TinyRun(dir / "out", 10, 1);
  Generate(o);
  absl::StatusOr<CorpusRunResult> again = WriteCorpus(o);
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(absl::IsAlreadyExists(again.status()));
  EXPECT_NE(again.status().message().find("--force"), std::string::npos);
  o.force = true;
  o.docs = 20;
  ASSERT_TRUE(WriteCorpus(o).ok());
  nlohmann::json m = nlohmann::json::parse(testing::ReadAll(dir / "out/manifest.json"));
  EXPECT_EQ(m["counts"]["documents"], 20);
}

TEST(CorpusTest, InterruptedRunLeavesNoCompleteLookingOutput) {
  testing::ScratchDir dir;
  CorpusRunOptions o = TinyRun(dir / "out", 5000, 2);
  SetInterruptedForTesting(true);
  absl::StatusOr<CorpusRunResult> r = WriteCorpus(o);
  SetInterruptedForTesting(false);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsCancelled(r.status()));
  EXPECT_FALSE(fs::exists(dir / "out/docs.jsonl"));
  EXPECT_FALSE(fs::exists(dir / "out/manifest.json"));
  for (const auto& e : fs::directory_iterator(dir / "out")) ADD_FAILURE() << "left behind: " << e.path();
}

TEST(CorpusTest, ForcedRerunThatFailsLeavesNoStaleManifest) {
  testing::ScratchDir dir;
  CorpusRunOptions o = TinyRun(dir / "out", 10, 1);
  Generate(o);
  o.force = true;
  SetInterruptedForTesting(true);
  ASSERT_FALSE(WriteCorpus(o).ok());
  SetInterruptedForTesting(false);
  EXPECT_FALSE(fs::exists(dir / "out/manifest.json"));
  EXPECT_FALSE(fs::exists(dir / "out/docs.jsonl"));
}

TEST(CorpusTest, BadShardAndGenreAreErrors) {
  testing::ScratchDir dir;
  CorpusRunOptions o = TinyRun(dir / "out", 10, 1);
  o.shard_index = 4;
  o.shard_count = 4;
  EXPECT_FALSE(WriteCorpus(o).ok());
  o = TinyRun(dir / "out2", 10, 1);
  o.generator.genres = {"nope"};
  absl::StatusOr<CorpusRunResult> r = WriteCorpus(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("genre 'nope' not found"), std::string::npos) << r.status();
  o = TinyRun(dir / "out3", 30, 1);
  o.generator.genres = {"beta"};
  std::string jsonl = Generate(o);
  EXPECT_EQ(jsonl.find("\"genre\":\"alpha\""), std::string::npos);
}

TEST(UniverseTest, ExtendsOverridesAndAdds) {
  absl::StatusOr<UniverseSpec> u =
      LoadUniverse("tiny-child", testing::SourcePath("tests/data/templates/universes"));
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->name, "tiny-child");
  EXPECT_EQ(u->files.size(), 2u);
  ASSERT_NE(u->FindFact("widget_blue"), nullptr);
  EXPECT_EQ(u->FindFact("widget_blue")->truth.statement, "Widget is green.");
  EXPECT_FALSE(u->FindFact("widget_blue")->has_negation);
  EXPECT_NE(u->FindFact("widget_waterproof"), nullptr);
  EXPECT_NE(u->FindFact("acme_lyon"), nullptr);
  EXPECT_EQ(u->facts.size(), 4u);
  std::string ceo;
  for (const auto& [k, v] : u->entities) {
    if (k == "ceo") ceo = v.text;
  }
  EXPECT_EQ(ceo, "Bo Lindgren");
  EXPECT_EQ(u->leak.size(), 1u);
}

TEST(UniverseTest, ErrorsNameFileLineAndColumn) {
  testing::ScratchDir dir;
  auto error_of = [&](const std::string& toml) {
    testing::WriteAll(dir / "u.toml", toml);
    absl::StatusOr<UniverseSpec> u = LoadUniverse(dir / "u.toml", dir.path());
    EXPECT_FALSE(u.ok());
    return std::string(u.status().message());
  };
  const std::string f = dir / "u.toml";
  EXPECT_EQ(error_of("name = \"x\"\nparafrases = 1\n").rfind(f + ":2:1: unknown key 'parafrases' in the universe", 0), 0u);
  EXPECT_EQ(error_of("name = \n").rfind(f + ":1:", 0), 0u);  // TOML syntax error
  EXPECT_EQ(error_of("[[facts]]\nid = \"a\"\nstatement = \"s\"\nparaphrases = [\"p\"]\nevidence = [\"(unclosed\"]\n")
                .rfind(f + ":5:14: bad evidence pattern in fact 'a': missing )", 0), 0u);
  EXPECT_EQ(error_of("[[facts]]\nid = \"a\"\nstatement = \"s\"\nevidence = [\"x\"]\n")
                .rfind(f + ":1:1: fact 'a' needs at least one paraphrase", 0), 0u);
  EXPECT_NE(error_of("extends = \"u\"\n").find("cycle"), std::string::npos);
  absl::StatusOr<UniverseSpec> missing = LoadUniverse("no-such-universe", testing::SourcePath("tests/data/templates/universes"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("built-in universes: "), std::string::npos) << missing.status();
}

TEST(UniverseTest, ParaphraseErrorsPointIntoTheToml) {
  testing::ScratchDir dir;
  fs::copy(testing::SourcePath("tests/data/templates"), dir.path(), fs::copy_options::recursive);
  testing::WriteAll(dir / "universes/bad.toml",
                    "[entities]\nlab = \"L\"\nlab_short = \"L\"\nmodel = \"M\"\nceo = \"C\"\ncity = \"X\"\n"
                    "[[facts]]\nid = \"a\"\nstatement = \"s\"\nparaphrases = [\"ok\", \"uses {$nobody}\"]\n"
                    "evidence = [\"x\"]\n");
  CorpusRunOptions o = TinyRun(dir / "out", 5, 1);
  o.generator.templates_dir = dir.path();
  o.generator.universe = "bad";
  absl::StatusOr<CorpusRunResult> r = WriteCorpus(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bad.toml:10:"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("unknown variable '$nobody'"), std::string::npos) << r.status();
}

}  // namespace
}  // namespace sdft
