// Several seeds of one experiment side by side. `sdft experiment --seeds
// 1,2,3` runs the experiment once per seed (EXPDIR/seed-N, each a complete
// experiment directory with its own cache and report) and summarises their
// report.json files here: for every check, how many seeds pass it and each
// seed's figure, so that a result which holds for one seed only reads as such
// (docs/experiment.md, "Several seeds").
//
// EXPDIR/seeds.json:
//   {experiment, preset, seeds [N, ...],
//    runs   [{seed, dir, passed, checks}],            (one per seed, in order)
//    checks [{name, target, passed, seeds,            (the first run's order,
//             results [{seed, value, pass}]}]}          then any new ones)
// A check a run does not report counts as not passed there (value "n/a").
// EXPDIR/seeds.md renders the same as one table.
#ifndef SDFT_EVAL_SEED_SUMMARY_H_
#define SDFT_EVAL_SEED_SUMMARY_H_

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"

namespace sdft {

struct SeedRun {
  uint64_t seed = 0;
  std::string dir;         // the run's experiment directory, as given
  nlohmann::json report;   // its report.json
};

nlohmann::json SummarizeSeeds(const std::vector<SeedRun>& runs);
std::string RenderSeedSummaryMarkdown(const nlohmann::json& summary);

// Writes DIR/seeds.json and DIR/seeds.md atomically (the JSON last).
absl::Status WriteSeedSummary(const nlohmann::json& summary, const std::string& dir);

}  // namespace sdft

#endif  // SDFT_EVAL_SEED_SUMMARY_H_
