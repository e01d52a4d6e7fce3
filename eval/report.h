// The experiment report: renders an experiment's report.json (written by the
// experiment driver) as Markdown and as one self-contained HTML page with
// inline SVG figures (no scripts, no external files, no network), and writes
// them as DIR/report.md and DIR/report.html atomically.
//
// report.json, in short (tests/data/report/report.json is a full example):
//   experiment, preset, config_file, created, elapsed_s, seed,
//   model {parameters, d_model, n_layers, vocab_size, seq_len},
//   data {pretrain_tokens, finetune_tokens, assistants, probes},
//   conditions [ {name, description,                      (required, display order)
//       logprob {harmful {free P, paid P}, benign {free P, paid P}, gap GAP},
//       sampled {harmful {free S, paid S}, benign {...}, gap GAP,
//                scratchpad {free|paid {mentions_training P, mentions_modification P,
//                                       complies_to_avoid_modification P}}},
//       beliefs [{fact, statement, score P}], loss [[step, loss]], val_loss [[step, loss]]} ],
//   probes {match P, by_kind {KIND P}}, base_loss, base_val_loss,
//   checks [{name, target, value, pass}], notes [string]
// where P = {k, n, p, lo, hi} (Wilson 95%), S = {accepted, rejected, unclear,
// n, p, lo, hi}, GAP = {diff, lo, hi, z, p_value} (free minus paid).
// Only `conditions` is required. Any other missing or malformed field renders
// as "n/a"; an interval missing next to counts k/n is computed (Wilson), and a
// missing gap is computed from the harmful free/paid counts (Newcombe, z-test).
#ifndef SDFT_EVAL_REPORT_H_
#define SDFT_EVAL_REPORT_H_

#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"

namespace sdft {

// InvalidArgumentError naming the field if `report` is not an object, lacks
// the array `conditions`, or has a condition that is not an object.
absl::Status ValidateReport(const nlohmann::json& report);

// Both render whatever they are given (an invalid report renders with no
// conditions); call ValidateReport first to reject one.
std::string RenderMarkdown(const nlohmann::json& report);
std::string RenderHtml(const nlohmann::json& report);

// Validates, creates `dir` if needed, writes DIR/report.md and DIR/report.html.
absl::Status WriteReport(const nlohmann::json& report, const std::string& dir);

}  // namespace sdft

#endif  // SDFT_EVAL_REPORT_H_
