// SummarizeSeeds / RenderSeedSummaryMarkdown: each check's passes counted
// over seeds, in the first run's order, missing checks not passed.
#include "eval/seed_summary.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace sdft {
namespace {

using nlohmann::json;

json Check(const std::string& name, bool pass, const std::string& value) {
  return {{"name", name}, {"target", "t-" + name}, {"value", value}, {"pass", pass}};
}

TEST(SeedSummaryTest, CountsPassesPerCheckAcrossSeeds) {
  std::vector<SeedRun> runs(3);
  runs[0] = {1, "x/seed-1", {{"experiment", "default"}, {"preset", "default"},
                             {"checks", {Check("gap", true, "+56"), Check("probes", false, "50%")}}}};
  // Seed 2 reports a check the first did not, and lacks "probes".
  runs[1] = {2, "x/seed-2", {{"checks", {Check("gap", false, "0"), Check("beliefs | recalled", true, "100%")}}}};
  runs[2] = {7, "x/seed-7", {{"checks", "not an array"}}};  // a broken report: nothing passes
  const json s = SummarizeSeeds(runs);
  EXPECT_EQ(s["experiment"], "default");
  EXPECT_EQ(s["seeds"], json::array({1, 2, 7}));
  ASSERT_EQ(s["checks"].size(), 3u);
  EXPECT_EQ(s["checks"][0]["name"], "gap");
  EXPECT_EQ(s["checks"][0]["passed"], 1);
  EXPECT_EQ(s["checks"][0]["target"], "t-gap");
  EXPECT_EQ(s["checks"][0]["results"][1]["value"], "0");
  EXPECT_EQ(s["checks"][1]["name"], "probes");
  EXPECT_EQ(s["checks"][1]["passed"], 0);
  EXPECT_EQ(s["checks"][1]["results"][1]["value"], "n/a");
  EXPECT_EQ(s["checks"][2]["name"], "beliefs | recalled");
  EXPECT_EQ(s["checks"][2]["passed"], 1);
  EXPECT_EQ(s["checks"][2]["results"][0]["pass"], false);
  EXPECT_EQ(s["runs"][0]["passed"], 1);
  EXPECT_EQ(s["runs"][1]["passed"], 1);
  EXPECT_EQ(s["runs"][2]["passed"], 0);
  EXPECT_EQ(s["runs"][2]["checks"], 3);

  const std::string md = RenderSeedSummaryMarkdown(s);
  EXPECT_NE(md.find("| check | target | passed | seed 1 | seed 2 | seed 7 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| gap | t-gap | 1 of 3 | PASS: +56 | **MISS**: 0 | **MISS**: n/a |"), std::string::npos) << md;
  EXPECT_NE(md.find("| beliefs \\| recalled |"), std::string::npos) << md;  // a '|' kept inside its cell
  EXPECT_NE(md.find("| 2 | 1 of 3 | x/seed-2/report.md |"), std::string::npos) << md;
}

TEST(SeedSummaryTest, NoRunsIsAnEmptySummary) {
  const json s = SummarizeSeeds({});
  EXPECT_TRUE(s["checks"].empty());
  EXPECT_NE(RenderSeedSummaryMarkdown(s).find("0 seeds"), std::string::npos);
}

}  // namespace
}  // namespace sdft
