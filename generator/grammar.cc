#include "generator/grammar.h"

#include <algorithm>
#include <deque>
#include <filesystem>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/atomic_file.h"

namespace sdft {
namespace {

constexpr int kInf = std::numeric_limits<int>::max() / 4;

}  // namespace

Grammar::Grammar() = default;

absl::Status Grammar::Error(const SourceLoc& loc, const std::string& msg) const {
  return absl::InvalidArgumentError(absl::StrCat(Where(loc), ": ", msg));
}

std::string Grammar::Where(const SourceLoc& loc) const {
  if (loc.file < 0 || loc.file >= static_cast<int>(files_.size())) return "<unknown>";
  return absl::StrFormat("%s:%d:%d", files_[loc.file].display, loc.line, loc.col);
}

std::vector<std::string> Grammar::LoadedPaths() const {
  std::vector<std::string> out;
  for (const File& f : files_) {
    if (!f.external) out.push_back(f.path);
  }
  return out;
}

int Grammar::AddExternalFile(const std::string& display) {
  File f;
  f.display = display;
  f.path = display;
  f.external = true;
  files_.push_back(std::move(f));
  return static_cast<int>(files_.size()) - 1;
}

absl::Status Grammar::AddFile(const std::string& path, const std::string& genre) {
  std::error_code ec;
  std::string canon = std::filesystem::weakly_canonical(path, ec).string();
  if (ec) canon = path;
  if (auto it = file_by_path_.find(canon); it != file_by_path_.end()) {
    if (!genre.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": loaded twice"));
    return absl::OkStatus();
  }
  std::string text;
  if (absl::Status s = ReadFile(path, &text); !s.ok()) return s;
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  return AddSource(path, text, dir, genre);
}

absl::Status Grammar::AddSource(const std::string& display, std::string_view text,
                                const std::string& dir, const std::string& genre) {
  if (finalized_) return absl::FailedPreconditionError("Grammar already finalized");
  File f;
  f.display = display;
  std::error_code ec;
  f.path = std::filesystem::weakly_canonical(display, ec).string();
  if (ec || f.path.empty()) f.path = display;
  f.dir = dir;
  const int index = static_cast<int>(files_.size());
  file_by_path_[f.path] = index;
  files_.push_back(std::move(f));
  absl::StatusOr<ParsedFile> parsed = ParseTemplateFile(text, display, index);
  if (!parsed.ok()) return parsed.status();
  return LoadParsed(index, std::move(*parsed), genre);
}

absl::Status Grammar::LoadParsed(int file, ParsedFile parsed, const std::string& genre) {
  for (const IncludeDecl& inc : parsed.includes) {
    std::filesystem::path p = std::filesystem::path(files_[file].dir) / inc.path;
    std::string resolved = p.lexically_normal().string();
    if (!std::filesystem::exists(resolved)) {
      return Error(inc.loc, absl::StrCat("cannot find included file '", inc.path, "' (looked for ",
                                         resolved, ")"));
    }
    if (absl::Status s = AddFile(resolved, ""); !s.ok()) return s;
    std::error_code ec;
    std::string canon = std::filesystem::weakly_canonical(resolved, ec).string();
    files_[file].includes.push_back(file_by_path_.at(ec ? resolved : canon));
  }
  for (RuleDecl& d : parsed.rules) {
    Rule r;
    r.name = d.name;
    r.alts = std::move(d.alts);
    r.loc = d.loc;
    switch (d.kind) {
      case RuleDecl::Kind::kRule: r.kind = Rule::Kind::kRule; break;
      case RuleDecl::Kind::kVar: r.kind = Rule::Kind::kVar; break;
      case RuleDecl::Kind::kTemplate:
        if (genre.empty()) {
          return Error(d.loc, "templates belong in genre files (templates/genres/*.sdt), not in included banks");
        }
        r.kind = Rule::Kind::kTemplate;
        templates_.push_back({genre, absl::StrCat(genre, "/", d.name), static_cast<int>(rules_.size()), d.weight});
        break;
    }
    std::string key = (r.kind == Rule::Kind::kVar ? "$" : "") + r.name;
    files_[file].rules[key] = static_cast<int>(rules_.size());
    rules_.push_back(std::move(r));
    rule_file_.push_back(file);
  }
  return absl::OkStatus();
}

absl::Status Grammar::AddEntity(const std::string& name, std::string_view text, SourceLoc loc) {
  absl::StatusOr<Seq> seq = ParseTemplateText(text, files_[loc.file].display, loc.file, loc.line, loc.col);
  if (!seq.ok()) return seq.status();
  Rule r;
  r.kind = Rule::Kind::kVar;
  r.name = name;
  r.loc = loc;
  Alternative alt;
  alt.body = std::move(*seq);
  alt.loc = loc;
  r.alts.push_back(std::move(alt));
  entities_[name] = static_cast<int>(rules_.size());
  rules_.push_back(std::move(r));
  rule_file_.push_back(loc.file);
  return absl::OkStatus();
}

absl::Status Grammar::AddFact(const std::string& id, double weight,
                              const std::vector<std::pair<std::string, SourceLoc>>& paraphrases) {
  Rule r;
  r.kind = Rule::Kind::kFact;
  r.name = id;
  if (!paraphrases.empty()) r.loc = paraphrases[0].second;
  for (const auto& [text, loc] : paraphrases) {
    absl::StatusOr<Seq> seq = ParseTemplateText(text, files_[loc.file].display, loc.file, loc.line, loc.col);
    if (!seq.ok()) return seq.status();
    Alternative alt;
    alt.body = std::move(*seq);
    alt.loc = loc;
    r.alts.push_back(std::move(alt));
  }
  facts_.push_back({id, weight, static_cast<int>(rules_.size())});
  rule_file_.push_back(r.loc.file);
  rules_.push_back(std::move(r));
  return absl::OkStatus();
}

int Grammar::FindVar(const std::string& name) const {
  auto it = var_ids_.find(name);
  return it == var_ids_.end() ? -1 : it->second;
}

int Grammar::FindRule(const std::string& name) const {
  int found = -1;
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (rules_[i].kind != Rule::Kind::kRule || rules_[i].name != name) continue;
    if (found >= 0) return -2;
    found = static_cast<int>(i);
  }
  return found;
}

int Grammar::VarId(const std::string& name) {
  auto [it, inserted] = var_ids_.emplace(name, static_cast<int>(var_names_.size()));
  if (inserted) var_names_.push_back(name);
  return it->second;
}

// Own file first; then every file reachable through includes. Two different
// included files defining the same name is an error (ambiguous).
int Grammar::FindVisible(int file, const std::string& key, int* ambiguous_with) const {
  *ambiguous_with = -1;
  if (auto it = files_[file].rules.find(key); it != files_[file].rules.end()) return it->second;
  std::vector<bool> seen(files_.size(), false);
  std::deque<int> queue(files_[file].includes.begin(), files_[file].includes.end());
  seen[file] = true;
  int found = -1;
  while (!queue.empty()) {
    int f = queue.front();
    queue.pop_front();
    if (seen[f]) continue;
    seen[f] = true;
    if (auto it = files_[f].rules.find(key); it != files_[f].rules.end()) {
      if (found >= 0 && found != it->second) {
        *ambiguous_with = it->second;
        return found;
      }
      found = it->second;
    }
    for (int g : files_[f].includes) queue.push_back(g);
  }
  return found;
}

absl::Status Grammar::ResolveSeq(int file, Seq* seq) {
  for (Node& n : *seq) {
    switch (n.kind) {
      case Node::Kind::kText:
      case Node::Kind::kInt:
      case Node::Kind::kDate:
        break;
      case Node::Kind::kFact:
        if (facts_.empty()) return Error(n.loc, "{fact} used, but the universe defines no facts");
        for (Modifier m : n.mods) {
          if (IsDateModifier(m)) return Error(n.loc, absl::StrCat("modifier '", ModifierName(m), "' applies to dates only"));
        }
        break;
      case Node::Kind::kRule:
      case Node::Kind::kRepeat: {
        int amb;
        int r = files_[file].external ? -1 : FindVisible(file, n.text, &amb);
        if (r < 0 && n.literal_fallback) {  // {$x=word}: no such rule, so the word itself
          n.kind = Node::Kind::kText;
          break;
        }
        if (r < 0) return Error(n.loc, absl::StrCat("unknown rule '", n.text, "'"));
        if (amb >= 0) {
          return Error(n.loc, absl::StrCat("rule '", n.text, "' is ambiguous: defined at ", Where(rules_[r].loc),
                                           " and at ", Where(rules_[amb].loc)));
        }
        n.target = r;
        for (Modifier m : n.mods) {
          if (IsDateModifier(m)) return Error(n.loc, absl::StrCat("modifier '", ModifierName(m), "' applies to dates only"));
        }
        break;
      }
      case Node::Kind::kVar: {
        n.target = VarId(n.text);
        int def = -1;
        if (auto it = entities_.find(n.text); it != entities_.end()) {
          def = it->second;
        } else if (!files_[file].external) {
          int amb;
          def = FindVisible(file, "$" + n.text, &amb);
          if (def >= 0 && amb >= 0) {
            return Error(n.loc, absl::StrCat("variable '$", n.text, "' is ambiguous: defined at ",
                                             Where(rules_[def].loc), " and at ", Where(rules_[amb].loc)));
          }
        }
        n.def = def;
        break;
      }
      case Node::Kind::kBind:
        n.target = VarId(n.text);
        [[fallthrough]];
      case Node::Kind::kChoice:
      case Node::Kind::kOptional:
        for (Alternative& a : n.alts) {
          if (absl::Status s = ResolveSeq(file, &a.body); !s.ok()) return s;
        }
        break;
    }
  }
  return absl::OkStatus();
}

int Grammar::NodeDepth(const Node& n) const {
  switch (n.kind) {
    case Node::Kind::kText:
    case Node::Kind::kInt:
    case Node::Kind::kDate:
    case Node::Kind::kOptional:
      return 0;
    case Node::Kind::kRule:
      return rules_[n.target].min_depth;
    case Node::Kind::kRepeat:
      return n.lo == 0 ? 0 : rules_[n.target].min_depth;
    case Node::Kind::kVar:
      return n.def >= 0 ? rules_[n.def].min_depth : 0;
    case Node::Kind::kFact:
      return fact_min_depth_;
    case Node::Kind::kChoice:
    case Node::Kind::kBind: {
      int best = kInf;
      for (const Alternative& a : n.alts) best = std::min(best, SeqDepth(a.body));
      return best;
    }
  }
  return 0;
}

int Grammar::SeqDepth(const Seq& seq) const {
  int d = 0;
  for (const Node& n : seq) d = std::max(d, NodeDepth(n));
  return d;
}

void Grammar::SetAltDepths(Seq* seq) {
  for (Node& n : *seq) {
    for (Alternative& a : n.alts) {
      a.depth = SeqDepth(a.body);
      SetAltDepths(&a.body);
    }
  }
}

// Variables can be read where they were never bound; collect every name that
// some {$x=...} binds, so such reads are allowed (checked again at run time).
static bool IsPlainDate(const Seq& body) {
  return body.size() == 1 && body[0].kind == Node::Kind::kDate && body[0].mods.empty();
}

// Also collects the names whose every binding is a plain date {$d={@...}},
// which keep their date (so {$d.weekday} is allowed).
static void CollectBinds(const Seq& seq, std::set<std::string>* out, std::map<std::string, bool>* date_binds) {
  for (const Node& n : seq) {
    if (n.kind == Node::Kind::kBind) {
      out->insert(n.text);
      bool all_dates = !n.alts.empty();
      for (const Alternative& a : n.alts) all_dates &= IsPlainDate(a.body);
      auto [it, inserted] = date_binds->emplace(n.text, all_dates);
      if (!inserted) it->second &= all_dates;
    }
    for (const Alternative& a : n.alts) CollectBinds(a.body, out, date_binds);
  }
}

static bool AllDates(const Rule& r) {
  for (const Alternative& a : r.alts) {
    if (a.body.size() != 1 || a.body[0].kind != Node::Kind::kDate || !a.body[0].mods.empty()) return false;
  }
  return !r.alts.empty();
}

absl::Status Grammar::CheckDateMods(const Seq& seq) const {
  for (const Node& n : seq) {
    if (n.kind == Node::Kind::kVar) {
      auto db = date_binds_.find(n.text);
      bool date = n.def >= 0 ? rules_[n.def].is_date : (db != date_binds_.end() && db->second);
      for (Modifier m : n.mods) {
        if (IsDateModifier(m) && !date) {
          return Error(n.loc, absl::StrCat("modifier '", ModifierName(m), "' applies to dates only, and '$",
                                           n.text, "' is not defined as a date {@...}"));
        }
      }
    }
    for (const Alternative& a : n.alts) {
      if (absl::Status s = CheckDateMods(a.body); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status Grammar::Finalize() {
  if (finalized_) return absl::OkStatus();
  std::set<std::string> bound;
  for (const Rule& r : rules_) {
    for (const Alternative& a : r.alts) CollectBinds(a.body, &bound, &date_binds_);
  }
  bound.insert("n");
  for (size_t i = 0; i < rules_.size(); ++i) {
    for (Alternative& a : rules_[i].alts) {
      if (absl::Status s = ResolveSeq(rule_file_[i], &a.body); !s.ok()) return s;
    }
  }
  // Reads of variables with no definition must be bound somewhere.
  std::function<absl::Status(const Seq&)> check_unbound = [&](const Seq& seq) -> absl::Status {
    for (const Node& n : seq) {
      if (n.kind == Node::Kind::kVar && n.def < 0 && !bound.count(n.text)) {
        return Error(n.loc, absl::StrCat("unknown variable '$", n.text, "' (define it with '$", n.text,
                                         ":', bind it with {$", n.text, "=...}, or add it to the universe's [entities])"));
      }
      for (const Alternative& a : n.alts) {
        if (absl::Status s = check_unbound(a.body); !s.ok()) return s;
      }
    }
    return absl::OkStatus();
  };
  for (Rule& r : rules_) {
    r.is_date = r.kind == Rule::Kind::kVar && AllDates(r);
    for (const Alternative& a : r.alts) {
      if (absl::Status s = check_unbound(a.body); !s.ok()) return s;
    }
  }
  for (const Rule& r : rules_) {
    for (const Alternative& a : r.alts) {
      if (absl::Status s = CheckDateMods(a.body); !s.ok()) return s;
    }
  }

  // Least expansion depth of every rule, by fixpoint; rules left infinite
  // recurse without a base case.
  for (Rule& r : rules_) r.min_depth = kInf;
  fact_min_depth_ = facts_.empty() ? 0 : kInf;
  for (bool changed = true; changed;) {
    changed = false;
    for (Rule& r : rules_) {
      int best = kInf;
      for (const Alternative& a : r.alts) best = std::min(best, SeqDepth(a.body));
      int d = best >= kInf ? kInf : best + 1;
      if (d < r.min_depth) { r.min_depth = d; changed = true; }
    }
    int fd = 0;
    for (const FactEntry& f : facts_) fd = std::max(fd, rules_[f.rule].min_depth);
    if (!facts_.empty() && fd < fact_min_depth_) { fact_min_depth_ = fd; changed = true; }
  }
  for (const Rule& r : rules_) {
    if (r.min_depth >= kInf) {
      return Error(r.loc, absl::StrCat("recursion without a base case: every alternative of '",
                                       r.kind == Rule::Kind::kVar ? "$" : "", r.name,
                                       "' refers back to it (directly or through other rules), so it can never finish"));
    }
  }
  for (Rule& r : rules_) {
    double sum = 0;
    r.cum_weights.clear();
    r.max_alt_depth = 0;
    for (Alternative& a : r.alts) {
      sum += a.weight;
      r.cum_weights.push_back(sum);
      a.depth = SeqDepth(a.body);
      r.max_alt_depth = std::max(r.max_alt_depth, a.depth);
      SetAltDepths(&a.body);
    }
  }
  finalized_ = true;
  return absl::OkStatus();
}

}  // namespace sdft
