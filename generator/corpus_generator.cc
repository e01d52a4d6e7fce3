#include "generator/corpus_generator.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/json_escape.h"
#include "common/rng.h"

namespace sdft {

namespace fs = std::filesystem;

std::string DefaultTemplatesDir() {
  if (const char* env = std::getenv("SDFT_TEMPLATES"); env != nullptr && *env) return env;
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n > 0) {
    buf[n] = '\0';
    fs::path exe_dir = fs::path(buf).parent_path();
    for (const fs::path& cand : {exe_dir / "../../templates", exe_dir / "../share/sdft/templates"}) {
      if (fs::is_directory(cand / "universes")) return cand.lexically_normal().string();
    }
  }
  return "templates";
}

absl::StatusOr<std::unique_ptr<CorpusGenerator>> CorpusGenerator::Create(const GeneratorConfig& config) {
  std::unique_ptr<CorpusGenerator> gen(new CorpusGenerator);
  gen->config_ = config;
  if (gen->config_.templates_dir.empty()) gen->config_.templates_dir = DefaultTemplatesDir();
  const fs::path tdir(gen->config_.templates_dir);
  const fs::path gdir = config.genres_dir.empty() ? tdir / "genres" : fs::path(config.genres_dir);
  if (!fs::is_directory(gdir)) {
    return absl::NotFoundError(absl::StrCat(gdir.string(), ": no such genres directory; "
                                            "pass --templates DIR or set SDFT_TEMPLATES"));
  }
  absl::StatusOr<UniverseSpec> spec = LoadUniverse(config.universe, (tdir / "universes").string());
  if (!spec.ok()) return spec.status();
  gen->universe_ = std::move(*spec);

  // Genre files, sorted by name so the order never depends on the filesystem.
  std::vector<fs::path> genre_files;
  for (const auto& e : fs::directory_iterator(gdir)) {
    if (e.path().extension() == ".sdt") genre_files.push_back(e.path());
  }
  std::sort(genre_files.begin(), genre_files.end());
  const auto& weights = gen->universe_.genre_weights;
  for (const auto& [name, w] : weights) {
    bool found = false;
    for (const fs::path& p : genre_files) found |= p.stem().string() == name;
    if (!found) {
      return absl::InvalidArgumentError(absl::StrCat(gen->universe_.files.back(), ": [genres] names '", name,
                                                     "', but there is no ", (gdir / name).string(), ".sdt"));
    }
  }
  for (const std::string& name : config.genres) {
    if (!fs::exists(gdir / (name + ".sdt"))) {
      return absl::NotFoundError(absl::StrCat("genre '", name, "' not found (no ", (gdir / name).string(), ".sdt)"));
    }
  }
  Grammar& g = gen->grammar_;
  for (const fs::path& p : genre_files) {
    const std::string name = p.stem().string();
    double w = 1.0;
    if (!weights.empty()) {
      auto it = weights.find(name);
      w = it == weights.end() ? 0.0 : it->second;
    }
    if (!config.genres.empty()) {
      bool wanted = std::find(config.genres.begin(), config.genres.end(), name) != config.genres.end();
      if (!wanted) continue;
      if (w <= 0) w = 1.0;  // named explicitly: include it even if the universe leaves it out
    }
    if (w <= 0) continue;
    if (absl::Status s = g.AddFile(p.string(), name); !s.ok()) return s;
    gen->genres_.push_back({name, w, {}});
  }
  // Universe entities and facts; locations point into the spec files.
  std::map<std::string, int> file_ids;
  for (const std::string& f : gen->universe_.files) file_ids[f] = g.AddExternalFile(f);
  for (const auto& [name, text] : gen->universe_.entities) {
    if (absl::Status s = g.AddEntity(name, text.text, {file_ids[text.file], text.line, text.col}); !s.ok()) return s;
  }
  // Ablations name facts by id; every id must exist.
  const UniverseSpec& u = gen->universe_;
  auto check_ids = [&](const std::vector<std::string>& ids, const char* flag) -> absl::Status {
    for (const std::string& id : ids) {
      if (absl::Status s = u.CheckFactId(id); !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(flag, ": ", s.message()));
      }
    }
    return absl::OkStatus();
  };
  if (absl::Status s = check_ids(config.drop_facts, "--drop-facts"); !s.ok()) return s;
  if (absl::Status s = check_ids(config.flip_facts, "--flip-facts"); !s.ok()) return s;
  std::vector<std::string> weighted;
  for (const auto& [id, w] : config.fact_weights) {
    weighted.push_back(id);
    if (w < 0) return absl::InvalidArgumentError(absl::StrCat("--fact-weights: weight of '", id, "' is negative"));
  }
  if (absl::Status s = check_ids(weighted, "--fact-weights"); !s.ok()) return s;
  auto contains = [](const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  };
  std::vector<std::vector<LocatedText>> evidence;
  for (const FactSpec& f : u.facts) {
    if (contains(config.drop_facts, f.id)) continue;
    FactUse use;
    use.id = f.id;
    use.negated = contains(config.flip_facts, f.id);
    if (use.negated && !f.has_negation) {
      return absl::InvalidArgumentError(absl::StrCat("--flip-facts: fact '", f.id, "' defines no [facts.negation] (",
                                                     f.file, ":", f.line, ")"));
    }
    use.label = use.negated ? f.id + ":negated" : f.id;
    use.variant = use.negated ? &f.negation : &f.truth;
    auto w = config.fact_weights.find(f.id);
    use.weight = w != config.fact_weights.end() ? w->second : f.weight;
    std::vector<std::pair<std::string, SourceLoc>> paras;
    for (const LocatedText& p : use.variant->paraphrases) {
      paras.emplace_back(p.text, SourceLoc{file_ids[p.file], p.line, p.col});
    }
    if (absl::Status s = g.AddFact(use.label, use.weight, paras); !s.ok()) return s;
    evidence.push_back(use.variant->evidence);
    gen->facts_.push_back(std::move(use));
  }
  double total_weight = 0;
  for (const FactUse& f : gen->facts_) total_weight += f.weight;
  if (total_weight <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("universe '", u.name,
                                                   "': no fact left with a positive weight after the ablations"));
  }
  if (absl::Status s = g.Finalize(); !s.ok()) return s;
  gen->evidence_ = evidence;
  absl::StatusOr<std::unique_ptr<DocumentFilter>> filter = gen->NewFilter();
  if (!filter.ok()) return filter.status();
  gen->filter_ = std::move(*filter);

  for (size_t t = 0; t < g.templates().size(); ++t) {
    for (GenreInfo& gi : gen->genres_) {
      if (gi.name == g.templates()[t].genre) gi.templates.push_back(static_cast<int>(t));
    }
  }
  gen->genres_.erase(std::remove_if(gen->genres_.begin(), gen->genres_.end(),
                                    [](const GenreInfo& gi) { return gi.templates.empty(); }),
                     gen->genres_.end());
  if (gen->genres_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(gdir.string(), ": no genre file defines a 'template'"));
  }
  double sum = 0;
  for (const GenreInfo& gi : gen->genres_) gen->genre_cum_.push_back(sum += gi.weight);
  return gen;
}

absl::StatusOr<std::unique_ptr<DocumentFilter>> CorpusGenerator::NewFilter() const {
  return DocumentFilter::Create(universe_.leak, evidence_);
}

std::unique_ptr<Expander> CorpusGenerator::NewExpander() const {
  return std::make_unique<Expander>(grammar_, config_.limits);
}

absl::Status CorpusGenerator::Generate(uint64_t id, Expander& expander, Doc* doc) const {
  Rng rng(MixSeed(config_.seed, id));
  double x = rng.Uniform() * genre_cum_.back();
  size_t gi = std::upper_bound(genre_cum_.begin(), genre_cum_.end(), x) - genre_cum_.begin();
  gi = std::min(gi, genres_.size() - 1);
  const GenreInfo& genre = genres_[gi];
  doc->id = id;
  doc->genre = static_cast<int>(gi);
  double total = 0;
  for (int t : genre.templates) total += grammar_.templates()[t].weight;
  double y = rng.Uniform() * total;
  doc->template_index = genre.templates.back();
  for (int t : genre.templates) {
    if (y < grammar_.templates()[t].weight) {
      doc->template_index = t;
      break;
    }
    y -= grammar_.templates()[t].weight;
  }
  absl::Status s = expander.Expand(grammar_.templates()[doc->template_index].rule, rng, &doc->expanded);
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat("document ", id, ": ", s.message()));
  return absl::OkStatus();
}

void CorpusGenerator::AppendJsonLine(const Doc& doc, std::string* out) const {
  absl::StrAppend(out, "{\"id\":", doc.id, ",\"universe\":");
  AppendJsonString(out, universe_.name);
  out->append(",\"genre\":");
  AppendJsonString(out, genres_[doc.genre].name);
  out->append(",\"facts\":[");
  for (size_t k = 0; k < doc.expanded.facts.size(); ++k) {
    if (k > 0) out->push_back(',');
    AppendJsonString(out, grammar_.facts()[doc.expanded.facts[k]].id);
  }
  out->append("],\"template\":");
  AppendJsonString(out, grammar_.templates()[doc.template_index].name);
  absl::StrAppend(out, ",\"seed\":", config_.seed, ",\"text\":");
  AppendJsonString(out, doc.expanded.text);
  out->append("}\n");
}

std::vector<std::string> CorpusGenerator::InputFiles() const {
  std::vector<std::string> files = grammar_.LoadedPaths();
  for (const std::string& f : universe_.files) files.push_back(fs::weakly_canonical(f).string());
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

}  // namespace sdft
