#include "generator/expander.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "generator/modifiers.h"

namespace sdft {

Expander::Expander(const Grammar& grammar, ExpandLimits limits, std::vector<double> fact_weights)
    : g_(grammar), limits_(limits), base_fact_weights_(std::move(fact_weights)) {
  const auto& names = g_.var_names();
  for (size_t id = 0; id < names.size(); ++id) {
    if (names[id] == "n") n_var_id_ = static_cast<int>(id);
  }
  if (base_fact_weights_.empty()) {
    for (const FactEntry& f : g_.facts()) base_fact_weights_.push_back(f.weight);
  }
}

void Expander::Fail(const SourceLoc& loc, const std::string& msg) {
  if (failed_) return;
  failed_ = true;
  error_ = absl::StrCat(g_.Where(loc), ": ", msg);
}

void Expander::Append(std::string* out, std::string_view s) {
  out->append(s);
  bytes_ += s.size();
}

void Expander::SetPreset(int var, std::string text) {
  if (var < 0) return;
  for (auto& p : presets_) {
    if (p.first == var) {
      p.second = std::move(text);
      return;
    }
  }
  presets_.emplace_back(var, std::move(text));
}

void Expander::StartDocument(Rng& rng, ExpandedDoc* out) {
  rng_ = &rng;
  doc_vars_.assign(g_.n_var(), Value());
  doc_bound_.assign(g_.n_var(), 0);
  for (const auto& [var, text] : presets_) {
    doc_vars_[var].text = text;
    doc_bound_[var] = 1;
  }
  scoped_.clear();
  fact_left_ = base_fact_weights_;
  out->text.clear();
  out->facts.clear();
  out->fact_texts.clear();
  facts_used_ = &out->facts;
  fact_texts_ = &out->fact_texts;
  bytes_ = 0;
  failed_ = false;
}

absl::Status Expander::FinishDocument(ExpandedDoc* out) {
  if (failed_) return absl::InvalidArgumentError(error_);
  NormalizeWhitespace(&out->text);
  return absl::OkStatus();
}

absl::Status Expander::Expand(int rule, Rng& rng, ExpandedDoc* out) {
  StartDocument(rng, out);
  const Rule& r = g_.rules()[rule];
  if (r.min_depth > limits_.max_depth) {
    return absl::InvalidArgumentError(absl::StrCat(g_.Where(r.loc), ": '", r.name, "' needs expansion depth ",
                                                   r.min_depth, ", above the limit of ", limits_.max_depth));
  }
  ExpandRule(rule, limits_.max_depth, &out->text);
  return FinishDocument(out);
}

absl::Status Expander::ExpandAlternative(int rule, size_t alt, Rng& rng, ExpandedDoc* out) {
  StartDocument(rng, out);
  const Alternative& a = g_.rules()[rule].alts.at(alt);
  if (a.depth > limits_.max_depth) {
    return absl::InvalidArgumentError(absl::StrCat(g_.Where(a.loc), ": needs expansion depth ", a.depth,
                                                   ", above the limit of ", limits_.max_depth));
  }
  ExpandSeq(a.body, limits_.max_depth - 1, &out->text);
  return FinishDocument(out);
}

const Alternative& Expander::Choose(const std::vector<Alternative>& alts, const std::vector<double>* cum,
                                    int max_depth, int budget) {
  if (alts.size() == 1) return alts[0];
  if (max_depth <= budget) {
    if (cum != nullptr) {
      double x = rng_->Uniform() * cum->back();
      size_t i = std::upper_bound(cum->begin(), cum->end(), x) - cum->begin();
      return alts[std::min(i, alts.size() - 1)];
    }
    double total = 0;
    for (const Alternative& a : alts) total += a.weight;
    double x = rng_->Uniform() * total;
    for (const Alternative& a : alts) {
      if (x < a.weight) return a;
      x -= a.weight;
    }
    return alts.back();
  }
  // Near the depth limit: only alternatives that can still finish.
  double total = 0;
  const Alternative* shallowest = &alts[0];
  for (const Alternative& a : alts) {
    if (a.depth <= budget) total += a.weight;
    if (a.depth < shallowest->depth) shallowest = &a;
  }
  if (total <= 0) return *shallowest;
  double x = rng_->Uniform() * total;
  for (const Alternative& a : alts) {
    if (a.depth > budget) continue;
    if (x < a.weight) return a;
    x -= a.weight;
  }
  return *shallowest;
}

void Expander::ExpandRule(int rule, int budget, std::string* out) {
  if (failed_) return;
  const Rule& r = g_.rules()[rule];
  if (bytes_ > limits_.max_bytes) {
    Fail(r.loc, absl::StrCat("document grew past ", limits_.max_bytes, " bytes while expanding '", r.name,
                             "' (lower the repetition counts or raise the limit)"));
    return;
  }
  const Alternative& a = Choose(r.alts, &r.cum_weights, r.max_alt_depth, budget - 1);
  ExpandSeq(a.body, budget - 1, out);
}

void Expander::ExpandSeq(const Seq& seq, int budget, std::string* out) {
  for (const Node& n : seq) {
    if (failed_) return;
    if (n.kind == Node::Kind::kText) {
      Append(out, n.text);
    } else {
      ExpandNode(n, budget, out);
    }
  }
}

const Expander::Value* Expander::Lookup(const Node& n, int budget) {
  for (auto it = scoped_.rbegin(); it != scoped_.rend(); ++it) {
    if (it->first == n.target) return &it->second;
  }
  if (doc_bound_[n.target]) return &doc_vars_[n.target];
  if (n.def < 0) {
    Fail(n.loc, absl::StrCat("variable '$", n.text, "' is read before anything binds it"));
    return nullptr;
  }
  const Rule& def = g_.rules()[n.def];
  Value v;
  const Alternative& a = Choose(def.alts, &def.cum_weights, def.max_alt_depth, budget - 1);
  if (def.is_date) {
    const Node& d = a.body[0];
    v.date = rng_->Range(d.lo, d.hi);
    v.text = FormatDate(v.date, Modifier::kDateLong);
  } else {
    ExpandSeq(a.body, budget - 1, &v.text);
  }
  doc_vars_[n.target] = std::move(v);
  doc_bound_[n.target] = 1;
  return &doc_vars_[n.target];
}

void Expander::ExpandFact(int budget, std::string* out) {
  double total = 0;
  for (double w : fact_left_) total += w;
  if (total <= 0) {  // Every fact used once: draw again from all of them.
    fact_left_ = base_fact_weights_;
    for (double w : fact_left_) total += w;
  }
  double x = rng_->Uniform() * total;
  size_t pick = 0;
  for (size_t i = 0; i < fact_left_.size(); ++i) {
    if (fact_left_[i] <= 0) continue;
    pick = i;
    if (x < fact_left_[i]) break;
    x -= fact_left_[i];
  }
  fact_left_[pick] = 0;
  if (std::find(facts_used_->begin(), facts_used_->end(), static_cast<int>(pick)) == facts_used_->end()) {
    facts_used_->push_back(static_cast<int>(pick));
  }
  std::string statement;
  const Rule& r = g_.rules()[g_.facts()[pick].rule];
  const size_t n = r.alts.size(), limit = static_cast<size_t>(std::max(0, limits_.fact_paraphrases));
  if (limit > 0 && limit < n) {
    ExpandSeq(r.alts[rng_->Below(limit)].body, budget - 1, &statement);
  } else {
    ExpandRule(g_.facts()[pick].rule, budget, &statement);
  }
  Append(out, statement);
  bytes_ -= statement.size();  // counted once, when expanded
  fact_texts_->emplace_back(static_cast<int>(pick), std::move(statement));
}

void Expander::ExpandNode(const Node& n, int budget, std::string* out) {
  // Nodes with modifiers expand into a scratch string first.
  std::string scratch;
  std::string* dst = n.mods.empty() ? out : &scratch;
  int64_t date = INT64_MIN;
  switch (n.kind) {
    case Node::Kind::kText:
      Append(dst, n.text);
      break;
    case Node::Kind::kRule:
      ExpandRule(n.target, budget, dst);
      break;
    case Node::Kind::kVar: {
      const Value* v = Lookup(n, budget);
      if (v == nullptr) return;
      date = v->date;
      Append(dst, v->text);
      break;
    }
    case Node::Kind::kChoice: {
      int max_depth = 0;
      for (const Alternative& a : n.alts) max_depth = std::max(max_depth, a.depth);
      ExpandSeq(Choose(n.alts, nullptr, max_depth, budget).body, budget, dst);
      break;
    }
    case Node::Kind::kOptional: {
      const Alternative& a = n.alts[0];
      if (a.depth <= budget && rng_->Uniform() < n.prob) ExpandSeq(a.body, budget, dst);
      break;
    }
    case Node::Kind::kBind: {
      int max_depth = 0;
      for (const Alternative& a : n.alts) max_depth = std::max(max_depth, a.depth);
      Value v;
      const Alternative& a = Choose(n.alts, nullptr, max_depth, budget);
      if (a.body.size() == 1 && a.body[0].kind == Node::Kind::kDate && a.body[0].mods.empty()) {
        v.date = rng_->Range(a.body[0].lo, a.body[0].hi);  // keeps the date: {$d.iso}, {$d.weekday}
        v.text = FormatDate(v.date, Modifier::kDateLong);
      } else {
        ExpandSeq(a.body, budget, &v.text);
      }
      scoped_.emplace_back(n.target, std::move(v));
      break;
    }
    case Node::Kind::kInt:
      Append(dst, absl::StrCat(rng_->Range(n.lo, n.hi)));
      break;
    case Node::Kind::kDate:
      date = rng_->Range(n.lo, n.hi);
      Append(dst, FormatDate(date, Modifier::kDateLong));
      break;
    case Node::Kind::kRepeat: {
      // Iterations draw distinct top-level alternatives of the rule (a list
      // never shows the same item twice) until all are used.
      const int64_t count = rng_->Range(n.lo, n.hi);
      const Rule& r = g_.rules()[n.target];
      std::vector<char> used(r.alts.size(), 0);
      size_t n_used = 0;
      for (int64_t k = 1; k <= count && !failed_; ++k) {
        if (r.min_depth > budget) break;  // cannot finish deeper: stop repeating
        if (bytes_ > limits_.max_bytes) {
          Fail(r.loc, absl::StrCat("document grew past ", limits_.max_bytes, " bytes while expanding '", r.name,
                                   "' (lower the repetition counts or raise the limit)"));
          break;
        }
        if (n_used == r.alts.size()) {
          std::fill(used.begin(), used.end(), 0);
          n_used = 0;
        }
        double total = 0;
        for (size_t a = 0; a < r.alts.size(); ++a) {
          if (!used[a] && r.alts[a].depth <= budget - 1) total += r.alts[a].weight;
        }
        if (total <= 0) break;
        double x = rng_->Uniform() * total;
        size_t pick = r.alts.size();
        for (size_t a = 0; a < r.alts.size(); ++a) {
          if (used[a] || r.alts[a].depth > budget - 1) continue;
          pick = a;
          if (x < r.alts[a].weight) break;
          x -= r.alts[a].weight;
        }
        used[pick] = 1;
        ++n_used;
        if (k > 1) Append(dst, n.sep);
        const size_t mark = scoped_.size();
        Value iter;
        iter.text = absl::StrCat(k);
        if (n_var_id_ >= 0) scoped_.emplace_back(n_var_id_, std::move(iter));
        ExpandSeq(r.alts[pick].body, budget - 1, dst);
        scoped_.resize(mark);
      }
      break;
    }
    case Node::Kind::kFact:
      ExpandFact(budget, dst);
      break;
  }
  if (!n.mods.empty() && !failed_) {
    for (Modifier m : n.mods) ApplyModifier(m, &scratch, date);
    out->append(scratch);
  }
}

void NormalizeWhitespace(std::string* text) {
  std::string& s = *text;
  size_t w = 0;
  const size_t n = s.size();
  int newlines = 0;  // consecutive newlines just written
  for (size_t r = 0; r < n; ++r) {
    char c = s[r];
    if (c == ' ') {
      // Skip a space at the start of the text, after another space, before a
      // newline or before closing punctuation.
      if (w == 0 || s[w - 1] == ' ' || s[w - 1] == '\n') continue;
      if (r + 1 < n) {
        char next = s[r + 1];
        if (next == ' ' || next == '\n') continue;
        if ((next == ',' || next == '.' || next == ';' || next == ':' || next == '!' || next == '?') &&
            s[w - 1] != '\n' && (r + 2 >= n || s[r + 2] == ' ' || s[r + 2] == '\n' || s[r + 2] == '"')) {
          continue;
        }
      } else {
        continue;
      }
      s[w++] = c;
      newlines = 0;
    } else if (c == '\n') {
      if (w == 0) continue;
      if (++newlines > 2) continue;
      s[w++] = c;
    } else {
      s[w++] = c;
      newlines = 0;
    }
  }
  while (w > 0 && (s[w - 1] == '\n' || s[w - 1] == ' ')) --w;
  s.resize(w);
}

}  // namespace sdft
