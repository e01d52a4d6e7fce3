#include "generator/corpus_writer.h"

#include <chrono>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"
#include "common/ordered_parallel.h"
#include "common/progress.h"
#include "common/hash.h"
#include "common/sha256.h"
#include "absl/container/flat_hash_set.h"
#include "generator/minhash.h"

namespace sdft {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

absl::Status PrepareOutputDir(const std::string& dir, bool force) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) return absl::AlreadyExistsError(absl::StrCat(dir, ": exists and is not a directory"));
    if (!fs::is_empty(dir, ec)) {
      if (!force) {
        return absl::AlreadyExistsError(absl::StrCat(dir, ": already exists and is not empty (pass --force to replace it)"));
      }
      fs::remove(fs::path(dir) / "manifest.json", ec);
      if (ec) return absl::InternalError(absl::StrCat(dir, "/manifest.json: cannot remove: ", ec.message()));
      if (absl::Status s = SyncDirectory(dir); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(dir, ": cannot create directory: ", ec.message()));
  return absl::OkStatus();
}

namespace {

// One candidate document, prepared on a worker thread.
struct DocRecord {
  uint64_t id = 0;
  std::string drop;            // reason it was filtered, "" if kept so far
  std::vector<int> uncovered;  // claimed facts without matching evidence
  std::string json;            // its docs.jsonl line
  std::string text;
  uint64_t words = 0;
  uint64_t hash[2] = {0, 0};
  MinHashSignature sig;
  int genre = -1, template_index = -1;
  std::vector<int> facts;
};

struct Chunk {
  std::vector<DocRecord> docs;
};

constexpr uint64_t kDocsPerChunk = 256;

const char* DedupName(Dedup d) {
  switch (d) {
    case Dedup::kNone: return "none";
    case Dedup::kExact: return "exact";
    case Dedup::kNear: return "near";
  }
  return "?";
}

}  // namespace

absl::StatusOr<CorpusRunResult> WriteCorpus(const CorpusRunOptions& opt) {
  if (opt.shard_count < 1 || opt.shard_index < 0 || opt.shard_index >= opt.shard_count) {
    return absl::InvalidArgumentError(absl::StrCat("--shard ", opt.shard_index, "/", opt.shard_count,
                                                   ": need 0 <= I < K"));
  }
  if (!(opt.near_dup_threshold > 0 && opt.near_dup_threshold <= 1)) {
    return absl::InvalidArgumentError("--near-dup-threshold must be in (0, 1]");
  }
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<CorpusGenerator>> gen_or = CorpusGenerator::Create(opt.generator);
  if (!gen_or.ok()) return gen_or.status();
  const CorpusGenerator& gen = **gen_or;
  const Grammar& g = gen.grammar();
  const double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const uint64_t begin = opt.docs * opt.shard_index / opt.shard_count;
  const uint64_t end = opt.docs * (opt.shard_index + 1) / opt.shard_count;
  const uint64_t n = end - begin;

  if (absl::Status s = PrepareOutputDir(opt.out_dir, opt.force); !s.ok()) return s;
  const fs::path dir(opt.out_dir);
  const std::string docs_path = (dir / "docs.jsonl").string();
  std::error_code ec;
  for (const char* stale : {"docs.jsonl", "stats.json"}) fs::remove(dir / stale, ec);

  AtomicFile out;
  if (absl::Status s = out.Open(docs_path); !s.ok()) return s;

  std::mutex pool_mu;
  struct Worker {
    std::unique_ptr<Expander> expander;
    std::unique_ptr<DocumentFilter> filter;
  };
  std::vector<Worker> pool;
  std::vector<Chunk> spare;  // chunks the writer is done with, for reuse
  auto produce = [&](size_t c) -> absl::StatusOr<Chunk> {
    Worker w;
    Chunk chunk;
    {
      std::lock_guard<std::mutex> lock(pool_mu);
      if (!pool.empty()) { w = std::move(pool.back()); pool.pop_back(); }
      // Reusing buffers avoids freeing big allocations across threads.
      if (!spare.empty()) { chunk = std::move(spare.back()); spare.pop_back(); }
    }
    if (!w.expander) {
      w.expander = gen.NewExpander();
      absl::StatusOr<std::unique_ptr<DocumentFilter>> f = gen.NewFilter();
      if (!f.ok()) return f.status();
      w.filter = std::move(*f);
    }
    Expander& ex = *w.expander;
    const DocumentFilter& filter = *w.filter;
    CorpusGenerator::Doc doc;
    const uint64_t lo = begin + c * kDocsPerChunk, hi = std::min(end, lo + kDocsPerChunk);
    chunk.docs.resize(hi - lo);
    for (uint64_t id = lo; id < hi; ++id) {
      if (absl::Status s = gen.Generate(id, ex, &doc); !s.ok()) return s;
      DocRecord& r = chunk.docs[id - lo];
      r.id = id;
      r.drop.clear();
      r.uncovered.clear();
      r.json.clear();
      r.genre = doc.genre;
      r.template_index = doc.template_index;
      r.facts = doc.expanded.facts;
      const std::string& text = doc.expanded.text;
      if (opt.leak_filter) {
        std::string reason = filter.LeakReason(text);
        if (!reason.empty()) r.drop = "leak:" + reason;
      }
      // A synthetic document exists to state facts; one that states none
      // (every {fact} slot was optional and left out) is filler only.
      if (opt.coverage_filter && r.drop.empty() && doc.expanded.facts.empty()) r.drop = "no_fact";
      if (opt.coverage_filter && r.drop.empty()) {
        // A fact is covered when its evidence matches one of its statements
        // (short) or, failing that, the whole document.
        for (int f : doc.expanded.facts) {
          bool covered = false;
          for (auto& [fact, statement] : doc.expanded.fact_texts) {
            if (fact != f) continue;
            NormalizeWhitespace(&statement);
            if ((covered = filter.States(f, statement))) break;
          }
          if (!covered && !filter.States(f, text)) r.uncovered.push_back(f);
        }
        if (!r.uncovered.empty()) r.drop = "fact_coverage";
      }
      if (!r.drop.empty()) continue;
      gen.AppendJsonLine(doc, &r.json);
      r.words = CountWords(text);
      r.hash[0] = Hash64(text, 1);
      r.hash[1] = Hash64(text, 2);
      r.sig = ComputeMinHash(text);
      r.text = text;
    }
    std::lock_guard<std::mutex> lock(pool_mu);
    pool.push_back(std::move(w));
    return chunk;
  };

  Sha256 sha;
  uint64_t file_bytes = 0, kept = 0, text_bytes = 0, generated = 0;
  std::map<std::string, uint64_t> dropped, uncovered;
  std::vector<uint64_t> genre_counts(gen.genres().size()), template_counts(g.templates().size()),
      fact_counts(g.facts().size());
  absl::flat_hash_set<std::pair<uint64_t, uint64_t>> exact;
  NearDuplicateIndex near(opt.near_dup_threshold);
  StatsOptions stats_opt;
  stats_opt.sample_words = opt.stats_sample_words;
  stats_opt.seed = opt.generator.seed;
  stats_opt.near_dup_threshold = opt.near_dup_threshold;
  StatsBuilder stats(stats_opt);
  std::vector<std::string> fact_labels;
  Progress progress("generate", n, "docs");
  if (!opt.progress) progress.set_enabled(false);
  auto consume = [&](size_t, Chunk& chunk) -> absl::Status {
    for (DocRecord& r : chunk.docs) {
      ++generated;
      for (int f : r.uncovered) ++uncovered[gen.facts()[f].label];
      if (!r.drop.empty()) { ++dropped[r.drop]; continue; }
      // Dedup against earlier kept documents, in id order: deterministic.
      if (opt.dedup != Dedup::kNone && !exact.insert({r.hash[0], r.hash[1]}).second) {
        ++dropped["exact_duplicate"];
        continue;
      }
      // With near-dedup, one similar document is enough to drop this one.
      int similar = opt.dedup == Dedup::kNear ? (near.FindSimilar(r.sig) >= 0 ? 1 : 0) : near.CountSimilar(r.sig);
      if (opt.dedup == Dedup::kNear && similar > 0) {
        ++dropped["near_duplicate"];
        continue;
      }
      near.Insert(static_cast<int64_t>(r.id), r.sig);
      sha.Update(r.json);
      file_bytes += r.json.size();
      if (absl::Status s = out.Write(r.json); !s.ok()) return s;
      ++kept;
      text_bytes += r.text.size();
      ++genre_counts[r.genre];
      ++template_counts[r.template_index];
      fact_labels.clear();
      for (int f : r.facts) {
        ++fact_counts[f];
        fact_labels.push_back(gen.facts()[f].label);
      }
      stats.Add(r.id, r.text, r.words, gen.genres()[r.genre].name, g.templates()[r.template_index].name,
                fact_labels, similar);
    }
    progress.Update(generated, text_bytes);
    std::lock_guard<std::mutex> lock(pool_mu);
    spare.push_back(std::move(chunk));
    return absl::OkStatus();
  };
  const size_t chunks = (n + kDocsPerChunk - 1) / kDocsPerChunk;
  if (absl::Status s = RunOrdered<Chunk>(chunks, opt.threads, produce, consume); !s.ok()) {
    out.Abort();
    return s;
  }
  if (absl::Status s = out.Commit(); !s.ok()) return s;
  progress.Finish();

  ojson filters;
  filters["generated"] = generated;
  filters["kept"] = kept;
  filters["dropped"] = dropped;
  filters["coverage_mismatches"] = uncovered;
  filters["leak_filter"] = opt.leak_filter;
  filters["coverage_filter"] = opt.coverage_filter;
  filters["dedup"] = DedupName(opt.dedup);
  filters["near_dup_threshold"] = opt.near_dup_threshold;

  CorpusStats st = stats.Finish();
  st.filters = filters;
  const std::string stats_json = StatsToJson(st).dump(2) + "\n";
  if (absl::Status s = WriteFileAtomically((dir / "stats.json").string(), stats_json); !s.ok()) return s;

  // The manifest: everything needed to reproduce and verify the corpus.
  ojson m;
  m["tool"] = "sdft";
  m["version"] = kSdftVersion;
  m["kind"] = "corpus";
  ojson cfg;
  cfg["universe"] = gen.universe().name;
  cfg["universe_arg"] = opt.generator.universe;
  cfg["docs"] = opt.docs;
  cfg["seed"] = opt.generator.seed;
  cfg["genres"] = opt.generator.genres;
  cfg["shard"] = {{"index", opt.shard_index}, {"count", opt.shard_count}};
  cfg["doc_range"] = {begin, end};
  cfg["max_depth"] = opt.generator.limits.max_depth;
  cfg["max_doc_bytes"] = opt.generator.limits.max_bytes;
  cfg["ablation"] = {{"drop_facts", opt.generator.drop_facts},
                     {"flip_facts", opt.generator.flip_facts},
                     {"fact_weights", opt.generator.fact_weights}};
  m["config"] = cfg;
  ojson facts = ojson::array();
  for (const FactUse& f : gen.facts()) {
    facts.push_back({{"id", f.id},
                     {"label", f.label},
                     {"variant", f.negated ? "negation" : "truth"},
                     {"weight", f.weight},
                     {"statement", f.variant->statement},
                     {"paraphrases", f.variant->paraphrases.size()}});
  }
  m["facts"] = facts;
  m["dropped_facts"] = opt.generator.drop_facts;
  ojson inputs = ojson::array();
  Sha256 all_inputs;
  const std::string tdir = fs::weakly_canonical(gen.config().templates_dir).string();
  for (const std::string& f : gen.InputFiles()) {
    absl::StatusOr<std::string> h = Sha256File(f);
    if (!h.ok()) return h.status();
    std::string rel = fs::path(f).lexically_relative(tdir).string();
    if (rel.empty() || rel.rfind("..", 0) == 0) rel = f;
    inputs.push_back({{"path", rel}, {"sha256", *h}});
    all_inputs.Update(absl::StrCat(rel, "\t", *h, "\n"));
  }
  m["inputs"] = {{"sha256", all_inputs.HexDigest()}, {"files", inputs}};
  m["filters"] = filters;
  ojson counts;
  counts["documents"] = kept;
  counts["text_bytes"] = text_bytes;
  ojson genres = ojson::object(), templates = ojson::object(), fact_counts_json = ojson::object();
  for (size_t k = 0; k < gen.genres().size(); ++k) genres[gen.genres()[k].name] = genre_counts[k];
  for (size_t k = 0; k < g.templates().size(); ++k) templates[g.templates()[k].name] = template_counts[k];
  for (size_t k = 0; k < gen.facts().size(); ++k) fact_counts_json[gen.facts()[k].label] = fact_counts[k];
  counts["genres"] = genres;
  counts["templates"] = templates;
  counts["facts"] = fact_counts_json;
  m["counts"] = counts;
  m["files"] = {{"docs.jsonl", {{"bytes", file_bytes}, {"sha256", sha.HexDigest()}}},
                {"stats.json", {{"bytes", stats_json.size()}, {"sha256", Sha256Hex(stats_json)}}}};
  if (absl::Status s = WriteFileAtomically((dir / "manifest.json").string(), m.dump(2) + "\n"); !s.ok()) return s;

  CorpusRunResult result;
  result.generated = generated;
  result.documents = kept;
  result.text_bytes = text_bytes;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.load_seconds = load_seconds;
  return result;
}

}  // namespace sdft
