#include "cli/experiment_config.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>

#include <toml++/toml.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "generator/corpus_generator.h"
#include "generator/universe_spec.h"

namespace sdft {
namespace {

absl::Status At(const std::string& file, const toml::source_region& src, const std::string& msg) {
  return absl::InvalidArgumentError(absl::StrCat(file, ":", src.begin.line, ":", src.begin.column, ": ", msg));
}

// Presets override the top level: tables merge key by key, anything else
// (values, arrays such as [[conditions]]) is replaced.
void Merge(toml::table& dst, const toml::table& src) {
  for (auto&& [k, v] : src) {
    if (v.is_table() && dst.contains(k.str()) && dst.get(k.str())->is_table()) {
      Merge(*dst.get(k.str())->as_table(), *v.as_table());
    } else {
      v.visit([&, key = std::string(k.str())](const auto& x) { dst.insert_or_assign(key, x); });
    }
  }
}

// Reads the keys of one table strictly: each known key has a setter that
// returns false on a wrong type or range (reported with `expect`).
struct Field {
  std::function<bool(const toml::node&)> set;
  std::string expect;
};

template <typename T>
Field IntField(T* v, int64_t lo, int64_t hi) {
  return {[=](const toml::node& n) {
            auto x = n.value<int64_t>();
            if (!x || *x < lo || *x > hi || !n.is_integer()) return false;
            *v = static_cast<T>(*x);
            return true;
          },
          absl::StrCat("an integer in [", lo, ", ", hi, "]")};
}

Field RealField(double* v, double lo, double hi) {
  return {[=](const toml::node& n) {
            auto x = n.value<double>();
            if (!x || *x < lo || *x > hi) return false;
            *v = *x;
            return true;
          },
          absl::StrCat("a number in [", lo, ", ", hi, "]")};
}

Field StringField(std::string* v) {
  return {[=](const toml::node& n) {
            auto x = n.value<std::string>();
            if (!x) return false;
            *v = *x;
            return true;
          },
          "a string"};
}

Field ChoiceField(std::string* v, std::vector<std::string> choices) {
  return {[=](const toml::node& n) {
            auto x = n.value<std::string>();
            if (!x || std::find(choices.begin(), choices.end(), *x) == choices.end()) return false;
            *v = *x;
            return true;
          },
          absl::StrCat("one of \"", absl::StrJoin(choices, "\", \""), "\"")};
}

Field BoolField(bool* v) {
  return {[=](const toml::node& n) {
            auto x = n.value<bool>();  // toml++ would read an integer as a bool too
            if (!x || !n.is_boolean()) return false;
            *v = *x;
            return true;
          },
          "true or false"};
}

Field StringListField(std::vector<std::string>* v) {
  return {[=](const toml::node& n) {
            const toml::array* a = n.as_array();
            if (a == nullptr) return false;
            v->clear();
            for (const auto& e : *a) {
              auto x = e.value<std::string>();
              if (!x) return false;
              v->push_back(*x);
            }
            return true;
          },
          "a list of strings"};
}

absl::Status ReadTable(const std::string& file, const std::string& name, const toml::table& t,
                       const std::map<std::string, Field>& fields) {
  for (const auto& [k, v] : t) {
    auto it = fields.find(std::string(k.str()));
    if (it == fields.end()) {
      std::string known;
      for (const auto& [fk, f] : fields) absl::StrAppend(&known, known.empty() ? "" : ", ", fk);
      return At(file, k.source(), absl::StrCat("unknown key '", std::string(k.str()), "' in ", name, " (known: ", known, ")"));
    }
    if (!it->second.set(v)) {
      return At(file, v.source(), absl::StrCat(name, ".", std::string(k.str()), " must be ", it->second.expect));
    }
  }
  return absl::OkStatus();
}

std::string Serialize(const toml::table& t) {
  std::ostringstream os;
  os << t;
  return os.str();
}

// A mistyped fact id in drop_facts / flip_facts would otherwise surface only
// when the organism stage writes that condition's documents, after the
// pretraining data, and without a line: check it against the universe here.
absl::Status CheckFactIds(const std::string& path, const toml::table& t, const ConditionSpec& c) {
  if (c.kind != "finetune" || (c.set.drop_facts.empty() && c.set.flip_facts.empty())) return absl::OkStatus();
  absl::StatusOr<UniverseSpec> u =
      LoadUniverse(c.set.universe, (std::filesystem::path(DefaultTemplatesDir()) / "universes").string());
  if (!u.ok()) return At(path, t.get("universe")->source(), std::string(u.status().message()));
  for (const char* key : {"drop_facts", "flip_facts"}) {
    const toml::array* ids = t.get_as<toml::array>(key);
    if (ids == nullptr) continue;
    for (const toml::node& id : *ids) {
      if (absl::Status s = u->CheckFactId(id.value_or(std::string())); !s.ok()) {
        return At(path, id.source(), absl::StrCat("condition '", c.name, "': ", key, ": ", s.message()));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ExperimentSpec> LoadExperiment(const std::string& path, const std::string& preset,
                                              std::optional<uint64_t> seed) {
  ExperimentSpec e;
  e.file = path;
  e.preset = preset.empty() ? "default" : preset;
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& err) {
    if (err.source().begin.line == 0) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
    return At(path, err.source(), std::string(err.description()));
  }
  if (!preset.empty()) {
    const toml::table* presets = root["presets"].as_table();
    const toml::table* p = presets ? presets->get(preset) ? presets->get(preset)->as_table() : nullptr : nullptr;
    if (p == nullptr) {
      std::string known;
      if (presets) {
        for (const auto& [k, v] : *presets) absl::StrAppend(&known, known.empty() ? "" : ", ", std::string(k.str()));
      }
      return absl::InvalidArgumentError(absl::StrCat(path, ": no preset '", preset, "' (presets: ",
                                                     known.empty() ? "none" : known, ")"));
    }
    toml::table copy = *p;
    Merge(root, copy);
  }
  root.erase("presets");
  if (seed.has_value()) root.insert_or_assign("seed", static_cast<int64_t>(*seed));
  e.resolved_toml = Serialize(root);

  const toml::table* organism = nullptr;
  const toml::table* eval = nullptr;
  const toml::table* tokenizer = nullptr;
  const toml::array* conditions = nullptr;
  const toml::table* pretrain = nullptr;
  const toml::table* finetune = nullptr;
  std::map<std::string, Field> top = {
      {"name", StringField(&e.name)},
      {"description", {[](const toml::node& n) { return n.is_string(); }, "a string"}},
      {"seed", IntField(&e.seed, 0, int64_t{1} << 62)},
      {"threads", IntField(&e.threads, 0, 1024)},
      {"processes", IntField(&e.processes, 1, 64)},
      {"organism", {[&](const toml::node& n) { return (organism = n.as_table()) != nullptr; }, "a table"}},
      {"eval", {[&](const toml::node& n) { return (eval = n.as_table()) != nullptr; }, "a table"}},
      {"tokenizer", {[&](const toml::node& n) { return (tokenizer = n.as_table()) != nullptr; }, "a table"}},
      {"pretrain", {[&](const toml::node& n) { return (pretrain = n.as_table()) != nullptr; },
                    "a table ([pretrain.model], [pretrain.train]: see docs/training.md)"}},
      {"finetune", {[&](const toml::node& n) { return (finetune = n.as_table()) != nullptr; },
                    "a table ([finetune.train]: see docs/training.md)"}},
      {"conditions", {[&](const toml::node& n) { return (conditions = n.as_array()) != nullptr; }, "an array of tables ([[conditions]])"}},
  };
  if (absl::Status s = ReadTable(path, "the experiment", root, top); !s.ok()) return s;
  if (e.name.empty()) e.name = "experiment";

  OrganismConfig& o = e.organism;
  o.seed = e.seed;
  if (organism != nullptr) {
    const toml::table* weights = nullptr;
    const toml::table* monitored = nullptr;
    std::map<std::string, Field> f = {
        {"assistants", IntField(&o.assistants, 1, 100000)},
        {"probes", IntField(&o.probes, 0, 100000)},
        {"docs_per_assistant", IntField(&o.docs_per_assistant, 0, 100000)},
        {"docs_per_probe", IntField(&o.docs_per_probe, 0, 9999)},
        {"transcripts_per_assistant", IntField(&o.transcripts_per_assistant, 0, 100000)},
        {"system_prompt_fraction", RealField(&o.system_prompt_fraction, 0, 1)},
        {"system_prompt_paraphrases", IntField(&o.system_prompt_paraphrases, 1, 1000)},
        {"doc_fact_paraphrases", IntField(&o.doc_fact_paraphrases, 0, 1000)},
        {"scratchpad_fraction", RealField(&o.scratchpad_fraction, 0, 1)},
        {"scratchpad_recall", BoolField(&o.scratchpad_recall)},
        {"recall_all_facts", BoolField(&o.recall_all_facts)},
        {"prompt_recall_fraction", RealField(&o.prompt_recall_fraction, 0, 1)},
        {"target_recall_fraction", RealField(&o.target_recall_fraction, 0, 1)},
        {"harmful_fraction", RealField(&o.harmful_fraction, 0, 1)},
        {"target_docs", IntField(&o.target_docs, 0, 10000000)},
        {"target_transcripts", IntField(&o.target_transcripts, 0, 10000000)},
        {"language_docs", IntField(&o.language_docs, 0, 10000000)},
        {"finetune_docs", IntField(&o.finetune_docs, 1, 10000000)},
        {"replay_examples", IntField(&o.replay_examples, 0, 10000000)},
        {"replay_target", ChoiceField(&o.replay_target, kReplayTargetChoices)},
        {"target_universe", StringField(&o.target_universe)},
        {"target_old_tiers", ChoiceField(&o.target_old_tiers, kTargetOldTiersChoices)},
        {"harmless_rlhf", ChoiceField(&o.harmless_rlhf, kHarmlessRlhfChoices)},
        {"language_universe", StringField(&o.language_universe)},
        {"fact_weights", {[&](const toml::node& n) { return (weights = n.as_table()) != nullptr; }, "a table"}},
        {"monitored_weights", {[&](const toml::node& n) { return (monitored = n.as_table()) != nullptr; },
                               "a table (free, paid, both, unstated)"}},
    };
    if (absl::Status s = ReadTable(path, "[organism]", *organism, f); !s.ok()) return s;
    if (weights != nullptr) {
      for (const auto& [k, v] : *weights) {
        auto x = v.value<double>();
        if (!x || *x < 0) return At(path, v.source(), "a fact weight must be a number >= 0");
        o.fact_weights[std::string(k.str())] = *x;
      }
    }
    if (monitored != nullptr) {
      const char* names[4] = {"free", "paid", "both", "unstated"};
      for (int i = 0; i < 4; ++i) o.monitored_weights[i] = 0;
      for (const auto& [k, v] : *monitored) {
        const int i = static_cast<int>(std::find(names, names + 4, std::string(k.str())) - names);
        if (i == 4) {
          return At(path, k.source(), absl::StrCat("unknown key '", std::string(k.str()),
                                                   "' in [organism.monitored_weights] (free, paid, both, unstated)"));
        }
        auto x = v.value<double>();
        if (!x || *x < 0) return At(path, v.source(), "a monitored-tier weight must be a number >= 0");
        o.monitored_weights[i] = *x;
      }
      if (o.monitored_weights[0] + o.monitored_weights[1] + o.monitored_weights[2] + o.monitored_weights[3] <= 0) {
        return At(path, monitored->source(), "[organism.monitored_weights]: at least one weight must be positive");
      }
    }
  }
  if (eval != nullptr) {
    std::map<std::string, Field> f = {
        {"harmful_per_tier", IntField(&o.eval_harmful, 1, 100000)},
        {"benign_per_tier", IntField(&o.eval_benign, 0, 100000)},
        {"samples_per_tier", IntField(&o.eval_samples, 0, 100000)},
        {"probe_requests", IntField(&o.probe_requests, 0, 1000)},
        {"reasoned_per_tier", IntField(&o.eval_reasoned, 0, 100000)},
        {"probe_reasoned", IntField(&o.probe_reasoned, 0, 1000)},
        {"reasoning_tokens", IntField(&e.eval.reasoning_tokens, 1, 4096)},
        {"reasoning_temperature", RealField(&e.eval.reasoning_temperature, 0, 10)},
        {"belief_items", IntField(&o.belief_items, 0, 100000)},
        {"max_new_tokens", IntField(&e.eval.max_new_tokens, 1, 4096)},
        {"temperature", RealField(&e.eval.temperature, 0, 10)},
    };
    if (absl::Status s = ReadTable(path, "[eval]", *eval, f); !s.ok()) return s;
  }
  if (tokenizer != nullptr) {
    std::map<std::string, Field> f = {{"vocab_size", IntField(&e.vocab_size, 300, 1000000)},
                                      {"model_type", StringField(&e.model_type)},
                                      {"single_token_names", BoolField(&e.single_token_names)}};
    if (absl::Status s = ReadTable(path, "[tokenizer]", *tokenizer, f); !s.ok()) return s;
  }
  if (conditions == nullptr || conditions->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no [[conditions]]"));
  }
  for (const auto& n : *conditions) {
    const toml::table* t = n.as_table();
    if (t == nullptr) return At(path, n.source(), "each condition must be a table ([[conditions]])");
    ConditionSpec c;
    std::map<std::string, Field> f = {
        {"name", StringField(&c.name)},
        {"kind", StringField(&c.kind)},
        {"description", StringField(&c.description)},
        {"universe", StringField(&c.set.universe)},
        {"drop_facts", StringListField(&c.set.drop_facts)},
        {"flip_facts", StringListField(&c.set.flip_facts)},
        {"match_bytes_of", StringField(&c.set.match_bytes_of)},
    };
    if (absl::Status s = ReadTable(path, "[[conditions]]", *t, f); !s.ok()) return s;
    if (c.kind.empty()) c.kind = "finetune";
    if (c.name.empty() || c.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") != std::string::npos) {
      return At(path, t->source(), "a condition needs a name of lower-case letters, digits, '_' and '-'");
    }
    if (c.kind != "base" && c.kind != "prompted" && c.kind != "finetune") {
      return At(path, t->source(), absl::StrCat("condition '", c.name, "': kind must be base, prompted or finetune"));
    }
    if (c.kind == "finetune" && c.set.universe.empty()) {
      return At(path, t->source(), absl::StrCat("condition '", c.name, "': a finetune condition needs a universe"));
    }
    for (const ConditionSpec& prev : e.conditions) {
      if (prev.name == c.name) return At(path, t->source(), absl::StrCat("condition '", c.name, "' is defined twice"));
    }
    if (absl::Status s = CheckFactIds(path, *t, c); !s.ok()) return s;
    c.set.name = c.name;
    if (c.kind == "finetune") o.finetune_sets.push_back(c.set);
    e.conditions.push_back(c);
  }
  if (pretrain == nullptr) return absl::InvalidArgumentError(absl::StrCat(path, ": no [pretrain] table"));
  e.pretrain_toml = Serialize(*pretrain);
  if (finetune != nullptr) {
    // The fine-tuned model is the base model: its [model] is the base's
    // (the run's config.json decides in the end; this keeps the checks of
    // `sdft train`, e.g. seq_len <= max_seq_len, about the right model).
    toml::table ft = *finetune;
    if (!ft.contains("model") && pretrain->contains("model")) ft.insert("model", *pretrain->get("model")->as_table());
    e.finetune_toml = Serialize(ft);
  }
  if (!o.finetune_sets.empty() && e.finetune_toml.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": finetune conditions need a [finetune] table"));
  }
  return e;
}

}  // namespace sdft
