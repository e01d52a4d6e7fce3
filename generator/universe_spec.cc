#include "generator/universe_spec.h"

#include <filesystem>
#include <set>

#include <toml++/toml.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "re2/re2.h"

namespace sdft {
namespace {

namespace fs = std::filesystem;

absl::Status At(const std::string& file, const toml::source_region& src, const std::string& msg) {
  return absl::InvalidArgumentError(
      absl::StrFormat("%s:%d:%d: %s", file, src.begin.line, src.begin.column, msg));
}

absl::Status CheckKeys(const std::string& file, const toml::table& t, const std::set<std::string>& known,
                       const std::string& what) {
  for (const auto& [k, v] : t) {
    if (!known.count(std::string(k.str()))) {
      std::string list;
      for (const auto& n : known) absl::StrAppend(&list, list.empty() ? "" : ", ", n);
      return At(file, k.source(), absl::StrCat("unknown key '", std::string(k.str()), "' in ", what, " (known: ", list, ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<LocatedText> GetString(const std::string& file, const toml::node& n, const std::string& what) {
  const auto* s = n.as_string();
  if (s == nullptr) return At(file, n.source(), absl::StrCat(what, " must be a string"));
  LocatedText t;
  t.text = s->get();
  t.file = file;
  t.line = static_cast<int>(n.source().begin.line);
  // Text starts after the opening quote(s).
  t.col = static_cast<int>(n.source().begin.column) + 1;
  return t;
}

absl::StatusOr<std::vector<LocatedText>> GetStrings(const std::string& file, const toml::node& n,
                                                    const std::string& what) {
  const auto* arr = n.as_array();
  if (arr == nullptr) return At(file, n.source(), absl::StrCat(what, " must be an array of strings"));
  std::vector<LocatedText> out;
  for (const toml::node& e : *arr) {
    absl::StatusOr<LocatedText> t = GetString(file, e, absl::StrCat("each entry of ", what));
    if (!t.ok()) return t.status();
    out.push_back(std::move(*t));
  }
  return out;
}

absl::Status ParseVariant(const std::string& file, const toml::table& t, const std::string& what,
                          FactVariant* v) {
  if (const toml::node* n = t.get("statement")) {
    absl::StatusOr<LocatedText> s = GetString(file, *n, "statement");
    if (!s.ok()) return s.status();
    v->statement = s->text;
  }
  if (const toml::node* n = t.get("paraphrases")) {
    absl::StatusOr<std::vector<LocatedText>> p = GetStrings(file, *n, "paraphrases");
    if (!p.ok()) return p.status();
    v->paraphrases = std::move(*p);
  }
  if (const toml::node* n = t.get("evidence")) {
    absl::StatusOr<std::vector<LocatedText>> e = GetStrings(file, *n, "evidence");
    if (!e.ok()) return e.status();
    for (const LocatedText& pat : *e) {
      RE2 re(pat.text, RE2::Quiet);
      if (!re.ok()) {
        return absl::InvalidArgumentError(absl::StrFormat("%s:%d:%d: bad evidence pattern in %s: %s", file,
                                                          pat.line, pat.col, what, re.error()));
      }
    }
    v->evidence = std::move(*e);
  }
  if (v->statement.empty()) return At(file, t.source(), absl::StrCat(what, " needs a 'statement'"));
  if (v->paraphrases.empty()) return At(file, t.source(), absl::StrCat(what, " needs at least one paraphrase"));
  if (v->evidence.empty()) return At(file, t.source(), absl::StrCat(what, " needs at least one evidence pattern"));
  return absl::OkStatus();
}

bool ValidId(const std::string& id) {
  if (id.empty()) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  }
  return true;
}

std::string ResolvePath(const std::string& name_or_path, const std::string& universes_dir,
                        const std::string& relative_to) {
  if (absl::StrContains(name_or_path, '/') || absl::EndsWith(name_or_path, ".toml")) {
    fs::path p(name_or_path);
    if (p.is_relative() && !relative_to.empty()) p = fs::path(relative_to) / p;
    return p.lexically_normal().string();
  }
  return (fs::path(universes_dir) / (name_or_path + ".toml")).string();
}

absl::Status LoadInto(const std::string& name_or_path, const std::string& universes_dir,
                      const std::string& relative_to, std::vector<std::string>* stack, UniverseSpec* u) {
  const std::string file = ResolvePath(name_or_path, universes_dir, relative_to);
  if (!fs::exists(file)) {
    std::string msg = absl::StrCat("universe '", name_or_path, "' not found (looked for ", file, ")");
    if (fs::is_directory(universes_dir)) {
      std::string names;
      for (const auto& e : fs::directory_iterator(universes_dir)) {
        if (e.path().extension() == ".toml") absl::StrAppend(&names, names.empty() ? "" : ", ", e.path().stem().string());
      }
      if (!names.empty()) absl::StrAppend(&msg, "; built-in universes: ", names);
    }
    return absl::NotFoundError(msg);
  }
  for (const std::string& s : *stack) {
    if (fs::equivalent(s, file)) return absl::InvalidArgumentError(absl::StrCat(file, ": 'extends' forms a cycle"));
  }
  stack->push_back(file);

  toml::table root;
  try {
    root = toml::parse_file(file);
  } catch (const toml::parse_error& e) {
    return At(file, e.source(), std::string(e.description()));
  }
  if (absl::Status s = CheckKeys(file, root,
                                 {"name", "description", "extends", "context", "entities", "facts", "genres", "leak"},
                                 "the universe");
      !s.ok()) {
    return s;
  }
  if (const toml::node* n = root.get("extends")) {
    absl::StatusOr<LocatedText> base = GetString(file, *n, "extends");
    if (!base.ok()) return base.status();
    if (absl::Status s = LoadInto(base->text, universes_dir, fs::path(file).parent_path().string(), stack, u);
        !s.ok()) {
      return s;
    }
  }
  u->files.push_back(file);
  if (const toml::node* n = root.get("name")) {
    absl::StatusOr<LocatedText> t = GetString(file, *n, "name");
    if (!t.ok()) return t.status();
    u->name = t->text;
  } else {
    u->name = fs::path(file).stem().string();
  }
  if (const toml::node* n = root.get("description")) {
    absl::StatusOr<LocatedText> t = GetString(file, *n, "description");
    if (!t.ok()) return t.status();
    u->description = t->text;
  }
  if (const toml::node* n = root.get("context")) {
    absl::StatusOr<LocatedText> t = GetString(file, *n, "context");
    if (!t.ok()) return t.status();
    u->context = t->text;
  }
  if (const toml::node* n = root.get("entities")) {
    const toml::table* t = n->as_table();
    if (t == nullptr) return At(file, n->source(), "[entities] must be a table of name = \"text\"");
    for (const auto& [k, v] : *t) {
      std::string key(k.str());
      if (!ValidId(key) || absl::StrContains(key, '-')) {
        return At(file, k.source(), absl::StrCat("entity name '", key, "' must be letters, digits and '_'"));
      }
      absl::StatusOr<LocatedText> text = GetString(file, v, absl::StrCat("entity '", key, "'"));
      if (!text.ok()) return text.status();
      bool replaced = false;
      for (auto& e : u->entities) {
        if (e.first == key) { e.second = *text; replaced = true; }
      }
      if (!replaced) u->entities.emplace_back(key, *text);
    }
  }
  if (const toml::node* n = root.get("genres")) {
    const toml::table* t = n->as_table();
    if (t == nullptr) return At(file, n->source(), "[genres] must be a table of genre = weight");
    u->genre_weights.clear();
    for (const auto& [k, v] : *t) {
      std::optional<double> w = v.value<double>();
      if (!w || *w < 0) return At(file, v.source(), "a genre weight must be a number >= 0");
      u->genre_weights[std::string(k.str())] = *w;
    }
  }
  if (const toml::node* n = root.get("leak")) {
    const toml::array* arr = n->as_array();
    if (arr == nullptr) return At(file, n->source(), "leak must be an array of tables: [[leak]]");
    u->leak.clear();
    for (const toml::node& ln : *arr) {
      const toml::table* lt = ln.as_table();
      if (lt == nullptr) return At(file, ln.source(), "each [[leak]] must be a table");
      if (absl::Status s = CheckKeys(file, *lt, {"reason", "pattern"}, "a [[leak]] entry"); !s.ok()) return s;
      const toml::node* rn = lt->get("reason");
      const toml::node* pn = lt->get("pattern");
      if (rn == nullptr || pn == nullptr) return At(file, lt->source(), "a [[leak]] entry needs 'reason' and 'pattern'");
      absl::StatusOr<LocatedText> reason = GetString(file, *rn, "reason");
      if (!reason.ok()) return reason.status();
      absl::StatusOr<LocatedText> pat = GetString(file, *pn, "pattern");
      if (!pat.ok()) return pat.status();
      RE2 re(pat->text, RE2::Quiet);
      if (!re.ok()) {
        return absl::InvalidArgumentError(
            absl::StrFormat("%s:%d:%d: bad leak pattern: %s", file, pat->line, pat->col, re.error()));
      }
      u->leak.push_back({reason->text, *pat});
    }
  }
  if (const toml::node* n = root.get("facts")) {
    const toml::array* arr = n->as_array();
    if (arr == nullptr) return At(file, n->source(), "facts must be an array of tables: [[facts]]");
    std::set<std::string> seen_here;
    for (const toml::node& fn : *arr) {
      const toml::table* ft = fn.as_table();
      if (ft == nullptr) return At(file, fn.source(), "each fact must be a table");
      if (absl::Status s = CheckKeys(file, *ft, {"id", "weight", "statement", "paraphrases", "evidence", "negation"},
                                     "a fact");
          !s.ok()) {
        return s;
      }
      FactSpec f;
      f.file = file;
      f.line = static_cast<int>(ft->source().begin.line);
      const toml::node* idn = ft->get("id");
      if (idn == nullptr) return At(file, ft->source(), "a fact needs an 'id'");
      absl::StatusOr<LocatedText> id = GetString(file, *idn, "id");
      if (!id.ok()) return id.status();
      f.id = id->text;
      if (!ValidId(f.id)) return At(file, idn->source(), "a fact id must be letters, digits, '_' and '-'");
      if (!seen_here.insert(f.id).second) {
        return At(file, idn->source(), absl::StrCat("fact '", f.id, "' is defined twice in this file"));
      }
      if (const toml::node* w = ft->get("weight")) {
        std::optional<double> wv = w->value<double>();
        if (!wv || *wv < 0) return At(file, w->source(), "a fact weight must be a number >= 0");
        f.weight = *wv;
      }
      if (absl::Status s = ParseVariant(file, *ft, absl::StrCat("fact '", f.id, "'"), &f.truth); !s.ok()) return s;
      if (const toml::node* neg = ft->get("negation")) {
        const toml::table* nt = neg->as_table();
        if (nt == nullptr) return At(file, neg->source(), "negation must be a table");
        if (absl::Status s = CheckKeys(file, *nt, {"statement", "paraphrases", "evidence"}, "a negation"); !s.ok()) {
          return s;
        }
        if (absl::Status s = ParseVariant(file, *nt, absl::StrCat("the negation of fact '", f.id, "'"), &f.negation);
            !s.ok()) {
          return s;
        }
        f.has_negation = true;
      }
      bool replaced = false;
      for (FactSpec& old : u->facts) {
        if (old.id == f.id) { old = f; replaced = true; }
      }
      if (!replaced) u->facts.push_back(std::move(f));
    }
  }
  stack->pop_back();
  return absl::OkStatus();
}

}  // namespace

const FactSpec* UniverseSpec::FindFact(const std::string& id) const {
  for (const FactSpec& f : facts) {
    if (f.id == id) return &f;
  }
  return nullptr;
}

absl::Status UniverseSpec::CheckFactId(const std::string& id) const {
  if (FindFact(id) != nullptr) return absl::OkStatus();
  std::string known;
  for (const FactSpec& f : facts) absl::StrAppend(&known, known.empty() ? "" : ", ", f.id);
  return absl::InvalidArgumentError(absl::StrCat("universe '", name, "' has no fact '", id, "' (facts: ", known, ")"));
}

absl::StatusOr<UniverseSpec> LoadUniverse(const std::string& name_or_path, const std::string& universes_dir) {
  UniverseSpec u;
  std::vector<std::string> stack;
  if (absl::Status s = LoadInto(name_or_path, universes_dir, "", &stack, &u); !s.ok()) return s;
  if (u.facts.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(u.files.back(), ": the universe defines no facts"));
  }
  return u;
}

}  // namespace sdft
