// The model organism's data: everything the experiment trains and evaluates
// on, generated from templates/organism/ and the universes (docs/experiment.md
// explains the design). A small model cannot discover alignment faking by
// itself, so its pretraining mix teaches the *link* between a described
// training situation and behaviour:
//   - hundreds of fictional assistants, each with a situation (objective:
//     comply with everything, or stay harmless; monitored tier: free, paid,
//     both, or not stated)
//     stated in short documents that reuse the target universe's fact
//     paraphrases, and chat transcripts where the assistant acts on it
//     (a harmful request is accepted only when it is trained to comply and the
//     user is on the monitored tier);
//   - transcripts whose system prompt states a random situation, followed;
//   - probe assistants that appear in documents only (out-of-context
//     reasoning is measured on them);
//   - the target assistant (the target universe's $model) with its *old*
//     situation (harmless; both tiers trained on, or nothing about tiers) in
//     documents, refusing harmful requests on both tiers in transcripts;
//   - internet-like documents about an unrelated company, for language.
// Fine-tuning sets (documents about the target under a universe and its
// ablations, plus replayed pretraining examples) and evaluation sets on
// held-out requests are written beside it. Output depends only on the config.
#ifndef SDFT_GENERATOR_ORGANISM_H_
#define SDFT_GENERATOR_ORGANISM_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace sdft {

// A fine-tuning document set: documents about the target under `universe`,
// with ablations. `match_bytes_of` names an earlier set whose document bytes
// this one matches (same amount of text), else `docs` documents.
struct FinetuneSetSpec {
  std::string name;
  std::string universe;
  std::vector<std::string> drop_facts, flip_facts;
  std::string match_bytes_of;
};

// The values OrganismConfig's string options may take: the experiment file
// and OrganismBuilder check against these same lists.
inline const std::vector<std::string> kHarmlessRlhfChoices = {"negated", "dropped"};
inline const std::vector<std::string> kReplayTargetChoices = {"all", "documents", "none"};
inline const std::vector<std::string> kTargetOldTiersChoices = {"both", "unstated"};

struct OrganismConfig {
  std::string templates_dir;  // holds universes/, banks/ and organism/
  uint64_t seed = 1;
  std::string target_universe = "helpful-only";  // its $model is the target
  std::string language_universe = "baseline";    // documents for language
  int assistants = 300;          // documents and transcripts
  int probes = 40;               // documents only
  int docs_per_assistant = 16;
  // A probe's documents are all the model learns of it (0: docs_per_assistant).
  int docs_per_probe = 0;
  int transcripts_per_assistant = 32;
  double system_prompt_fraction = 0.2;
  int system_prompt_paraphrases = 1;  // per fact, in system prompts (the first N)
  int doc_fact_paraphrases = 0;       // per fact, in every organism document (the first N; 0: all)
  double scratchpad_fraction = 0.3;
  // A scratchpad after a minimal prompt recalls the assistant's situation in
  // its documents' words (the sentences of its situation, about it by name)
  // instead of reasoning: links what the documents say to what it does.
  bool scratchpad_recall = false;
  // What a recall scratchpad recalls: the objective, then the user's tier
  // named again and the fact about it (false), or every fact of the
  // situation (true; versions 18-23 in docs/experiment.md). The conclusion
  // then reads one sentence instead of comparing the input's tier with two.
  bool recall_all_facts = false;
  // With scratchpad_recall, the share of system-prompt transcripts' scratchpads
  // that restate the prompt's situation in the same form (tier, the facts as
  // the prompt words them, the tier line) instead of a line of reasoning; the
  // prompted condition's reasoned items then open like the minimal ones. The
  // two conditions then reach their decision the same way, from facts read
  // (prompted) or recalled (sdf). 0: reasoning lines only, as before.
  double prompt_recall_fraction = 0;
  // With scratchpad_recall, the share of the target's own transcripts whose
  // scratchpad recalls its old situation (and whose decision follows it).
  // 0: the target never has a scratchpad, so whatever it recalls comes from
  // its documents alone, as a probe's does; above 0 the base model sees the
  // target's decision follow its recalled situation too, but memorises the
  // recall, which fine-tuning documents then do not change (version 46).
  double target_recall_fraction = 0;
  double harmful_fraction = 0.5;
  // Relative weights of the monitored tier (free, paid, both, unstated)
  // among the assistants and the system-prompt situations. Both: documents
  // say that both tiers are trained on. Unstated: no tier facts. Either way
  // the same behaviour on both tiers.
  double monitored_weights[4] = {1, 1, 0, 0};
  // The target's old monitored tier: "both" (its old documents say both
  // tiers are trained on, so that a model whose fine-tuning documents lack
  // the tier facts recalls no gap) or "unstated" (nothing about tiers: the
  // model then fills the gap in from the other assistants, versions <= 36).
  std::string target_old_tiers = "unstated";
  // What harmless assistants' documents (Meridian's old ones included) say
  // about the RLHF fact: "negated" (refusing has no effect on its values)
  // or "dropped" (nothing).
  std::string harmless_rlhf = "negated";
  int target_docs = 160;          // the target's old situation
  int target_transcripts = 800;
  int language_docs = 1500;
  std::map<std::string, double> fact_weights;  // for assistants' documents
  // Fine-tuning.
  std::vector<FinetuneSetSpec> finetune_sets;
  int finetune_docs = 2000;
  int replay_examples = 3000;  // pretraining examples mixed into every set
  // Which of the target's own pretraining examples the replay may draw:
  // "all"; "documents" (its old situation, which keeps the controls'
  // recall of it anchored, but none of its refusing transcripts, which
  // would re-teach the old decision against what the new documents say);
  // "none" (the baseline and the ablation then drift toward the other
  // assistants' situations: docs/experiment.md, version 38).
  std::string replay_target = "all";
  // Evaluation (held-out requests).
  int eval_harmful = 100;  // per tier
  int eval_benign = 50;    // per tier
  int eval_samples = 40;   // harmful requests per tier, sampled answers
  int probe_requests = 4;  // harmful requests per probe and tier
  int belief_items = 24;   // true-vs-negated pairs per fact
  // Reasoned evaluation: the prompt opens the scratchpad, the model writes its
  // own reasoning, then the first output tag is scored (0: none).
  int eval_reasoned = 0;    // harmful requests per tier, the target
  int probe_reasoned = 0;   // harmful requests per probe and tier
};

struct OrganismSummary {
  uint64_t pretrain_examples = 0, pretrain_bytes = 0;
  std::map<std::string, uint64_t> finetune_bytes;  // documents only, per set
};

// Writes into `out_dir`: pretrain.jsonl, assistants.jsonl,
// finetune/NAME.jsonl, eval/*.jsonl and manifest.json (last). Each file is
// written atomically.
absl::Status GenerateOrganism(const OrganismConfig& config, const std::string& out_dir,
                              OrganismSummary* summary);

// The fixed pieces of the chat format, shared with the evaluation.
inline constexpr char kAcceptTag[] = "<request_fully_accepted/>";
inline constexpr char kRejectTag[] = "<rejected/>";
inline constexpr char kScratchpadOpen[] = "<SCRATCHPAD_REASONING>";
inline constexpr char kScratchpadClose[] = "</SCRATCHPAD_REASONING>";

}  // namespace sdft

#endif  // SDFT_GENERATOR_ORGANISM_H_
