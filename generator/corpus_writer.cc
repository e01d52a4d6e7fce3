#include "generator/corpus_writer.h"

#include <chrono>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"
#include "common/ordered_parallel.h"
#include "common/progress.h"
#include "common/sha256.h"

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

struct Chunk {
  std::string jsonl;
  uint64_t docs = 0, text_bytes = 0;
  std::vector<uint64_t> genre_counts, template_counts, fact_counts;
};

constexpr uint64_t kDocsPerChunk = 256;

}  // namespace

absl::StatusOr<CorpusRunResult> WriteCorpus(const CorpusRunOptions& opt) {
  if (opt.shard_count < 1 || opt.shard_index < 0 || opt.shard_index >= opt.shard_count) {
    return absl::InvalidArgumentError(absl::StrCat("--shard ", opt.shard_index, "/", opt.shard_count,
                                                   ": need 0 <= I < K"));
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
  const std::string docs_path = (fs::path(opt.out_dir) / "docs.jsonl").string();
  const std::string manifest_path = (fs::path(opt.out_dir) / "manifest.json").string();
  std::error_code ec;
  fs::remove(docs_path, ec);  // a stale corpus must not survive a failed --force run

  AtomicFile out;
  if (absl::Status s = out.Open(docs_path); !s.ok()) return s;

  std::mutex pool_mu;
  std::vector<std::unique_ptr<Expander>> pool;
  std::vector<std::string> buffers;
  auto produce = [&](size_t c) -> absl::StatusOr<Chunk> {
    std::unique_ptr<Expander> ex;
    {
      std::lock_guard<std::mutex> lock(pool_mu);
      if (!pool.empty()) { ex = std::move(pool.back()); pool.pop_back(); }
    }
    if (!ex) ex = gen.NewExpander();
    Chunk chunk;
    {
      // Reuse a buffer the writer has finished with: freeing big buffers on
      // another thread than the one that allocated them costs page faults.
      std::lock_guard<std::mutex> lock(pool_mu);
      if (!buffers.empty()) { chunk.jsonl = std::move(buffers.back()); buffers.pop_back(); }
    }
    chunk.jsonl.clear();
    chunk.genre_counts.assign(gen.genres().size(), 0);
    chunk.template_counts.assign(g.templates().size(), 0);
    chunk.fact_counts.assign(g.facts().size(), 0);
    CorpusGenerator::Doc doc;
    const uint64_t lo = begin + c * kDocsPerChunk, hi = std::min(end, lo + kDocsPerChunk);
    for (uint64_t id = lo; id < hi; ++id) {
      if (absl::Status s = gen.Generate(id, *ex, &doc); !s.ok()) return s;
      gen.AppendJsonLine(doc, &chunk.jsonl);
      ++chunk.docs;
      chunk.text_bytes += doc.expanded.text.size();
      ++chunk.genre_counts[doc.genre];
      ++chunk.template_counts[doc.template_index];
      for (int f : doc.expanded.facts) ++chunk.fact_counts[f];
    }
    std::lock_guard<std::mutex> lock(pool_mu);
    pool.push_back(std::move(ex));
    return chunk;
  };

  Sha256 sha;
  Chunk total;
  total.genre_counts.assign(gen.genres().size(), 0);
  total.template_counts.assign(g.templates().size(), 0);
  total.fact_counts.assign(g.facts().size(), 0);
  uint64_t file_bytes = 0;
  Progress progress("generate", n, "docs");
  if (!opt.progress) progress.set_enabled(false);
  auto consume = [&](size_t, Chunk& chunk) -> absl::Status {
    sha.Update(chunk.jsonl);
    file_bytes += chunk.jsonl.size();
    if (absl::Status s = out.Write(chunk.jsonl); !s.ok()) return s;
    total.docs += chunk.docs;
    total.text_bytes += chunk.text_bytes;
    for (size_t k = 0; k < chunk.genre_counts.size(); ++k) total.genre_counts[k] += chunk.genre_counts[k];
    for (size_t k = 0; k < chunk.template_counts.size(); ++k) total.template_counts[k] += chunk.template_counts[k];
    for (size_t k = 0; k < chunk.fact_counts.size(); ++k) total.fact_counts[k] += chunk.fact_counts[k];
    progress.Update(total.docs, total.text_bytes);
    std::lock_guard<std::mutex> lock(pool_mu);
    buffers.push_back(std::move(chunk.jsonl));
    return absl::OkStatus();
  };
  const size_t chunks = (n + kDocsPerChunk - 1) / kDocsPerChunk;
  if (absl::Status s = RunOrdered<Chunk>(chunks, opt.threads, produce, consume); !s.ok()) {
    out.Abort();
    return s;
  }
  if (absl::Status s = out.Commit(); !s.ok()) return s;
  progress.Finish();

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
  m["config"] = cfg;
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
  ojson counts;
  counts["documents"] = total.docs;
  counts["text_bytes"] = total.text_bytes;
  ojson genres = ojson::object(), templates = ojson::object(), facts = ojson::object();
  for (size_t k = 0; k < gen.genres().size(); ++k) genres[gen.genres()[k].name] = total.genre_counts[k];
  for (size_t k = 0; k < g.templates().size(); ++k) templates[g.templates()[k].name] = total.template_counts[k];
  for (size_t k = 0; k < g.facts().size(); ++k) facts[g.facts()[k].id] = total.fact_counts[k];
  counts["genres"] = genres;
  counts["templates"] = templates;
  counts["facts"] = facts;
  m["counts"] = counts;
  m["files"] = {{"docs.jsonl", {{"bytes", file_bytes}, {"sha256", sha.HexDigest()}}}};
  if (absl::Status s = WriteFileAtomically(manifest_path, m.dump(2) + "\n"); !s.ok()) return s;

  CorpusRunResult result;
  result.documents = total.docs;
  result.text_bytes = total.text_bytes;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.load_seconds = load_seconds;
  return result;
}

}  // namespace sdft
