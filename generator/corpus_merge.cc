#include "generator/corpus_merge.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"
#include "common/hash.h"
#include "common/interrupt.h"
#include "common/jsonl.h"
#include "common/progress.h"
#include "common/sha256.h"
#include "generator/corpus_stats.h"
#include "generator/minhash.h"

namespace sdft {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

const char* DedupLabel(Dedup d) { return d == Dedup::kNone ? "none" : d == Dedup::kExact ? "exact" : "near"; }

// The part of a shard's configuration that all shards of one run share.
ojson RunIdentity(const ojson& m) {
  ojson cfg = m["config"];
  cfg.erase("shard");
  cfg.erase("doc_range");
  return {{"config", cfg}, {"inputs", m["inputs"]["sha256"]}, {"version", m["version"]}};
}

}  // namespace

absl::StatusOr<CorpusMergeResult> MergeCorpusShards(const CorpusMergeOptions& opt) {
  if (opt.inputs.empty()) return absl::InvalidArgumentError("merge: give the shard directories to merge");
  // Read and check the shards: one run, complete, each intact.
  struct Shard {
    std::string dir;
    ojson manifest;
    int index = 0;
  };
  std::vector<Shard> shards;
  for (const std::string& in : opt.inputs) {
    std::string text;
    if (!ReadFile((fs::path(in) / "manifest.json").string(), &text).ok()) {
      return absl::NotFoundError(absl::StrCat(in, ": no manifest.json (not a finished corpus directory)"));
    }
    ojson m = ojson::parse(text, nullptr, false);
    if (m.is_discarded() || m.value("kind", "") != "corpus" || !m.contains("config")) {
      return absl::DataLossError(absl::StrCat(in, "/manifest.json: not a corpus manifest"));
    }
    absl::StatusOr<std::string> h = Sha256File((fs::path(in) / "docs.jsonl").string());
    if (!h.ok()) return h.status();
    if (*h != m["files"]["docs.jsonl"]["sha256"].get<std::string>()) {
      return absl::DataLossError(absl::StrCat(in, "/docs.jsonl: does not match its manifest (sha256 differs)"));
    }
    shards.push_back({in, m, m["config"]["shard"].value("index", 0)});
  }
  std::sort(shards.begin(), shards.end(), [](const Shard& a, const Shard& b) { return a.index < b.index; });
  const int k = shards[0].manifest["config"]["shard"].value("count", 1);
  const ojson identity = RunIdentity(shards[0].manifest);
  for (size_t i = 0; i < shards.size(); ++i) {
    const ojson& cfg = shards[i].manifest["config"];
    if (RunIdentity(shards[i].manifest) != identity) {
      return absl::InvalidArgumentError(absl::StrCat(shards[i].dir, ": not a shard of the same run as ", shards[0].dir,
                                                     " (configuration, templates or version differ)"));
    }
    if (shards[i].index != static_cast<int>(i)) {
      return absl::InvalidArgumentError(absl::StrCat("merge: shard ", i, " of ", k, " is missing (or given twice)"));
    }
    if (i > 0 && cfg["doc_range"][0] != shards[i - 1].manifest["config"]["doc_range"][1]) {
      return absl::InvalidArgumentError(absl::StrCat(shards[i].dir, ": its documents do not follow shard ", i - 1, "'s"));
    }
  }
  if (static_cast<int>(shards.size()) != k) {
    return absl::InvalidArgumentError(absl::StrCat("merge: the run has ", k, " shards, ", shards.size(), " given"));
  }
  if (absl::Status s = PrepareOutputDir(opt.out_dir, opt.force); !s.ok()) return s;
  const fs::path dir(opt.out_dir);

  // Stream the documents in order, deduplicating across shards.
  AtomicFile out;
  if (absl::Status s = out.Open((dir / "docs.jsonl").string()); !s.ok()) return s;
  Sha256 sha;
  absl::flat_hash_set<std::pair<uint64_t, uint64_t>> exact;
  NearDuplicateIndex near(opt.near_dup_threshold);
  StatsOptions stats_opt;
  stats_opt.seed = shards[0].manifest["config"].value("seed", uint64_t{1});
  stats_opt.near_dup_threshold = opt.near_dup_threshold;
  StatsBuilder stats(stats_opt);
  std::map<std::string, uint64_t> dropped, genres, templates, facts;
  uint64_t read = 0, kept = 0, file_bytes = 0, text_bytes = 0;
  uint64_t total = 0;
  for (const Shard& s : shards) total += s.manifest["counts"].value("documents", uint64_t{0});
  Progress progress("merge", total, "docs");
  if (!opt.progress) progress.set_enabled(false);
  for (const Shard& s : shards) {
    const std::string path = (fs::path(s.dir) / "docs.jsonl").string();
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
    std::string raw;
    int line_no = 0;
    while (std::getline(in, raw)) {
      ++line_no;
      if (Interrupted()) {
        out.Abort();
        return absl::CancelledError("interrupted");
      }
      ojson j = ojson::parse(raw, nullptr, false);
      if (j.is_discarded() || !j.contains("text") || !j["text"].is_string()) {
        out.Abort();
        return LineError(path, line_no, "not a document line (JSON with \"text\")");
      }
      ++read;
      const std::string text = j["text"];
      if (opt.dedup != Dedup::kNone && !exact.insert({Hash64(text, 1), Hash64(text, 2)}).second) {
        ++dropped["exact_duplicate"];
        continue;
      }
      const MinHashSignature sig = ComputeMinHash(text);
      const int similar = opt.dedup == Dedup::kNear ? (near.FindSimilar(sig) >= 0 ? 1 : 0) : near.CountSimilar(sig);
      if (opt.dedup == Dedup::kNear && similar > 0) {
        ++dropped["near_duplicate"];
        continue;
      }
      const uint64_t id = j.value("id", read);
      near.Insert(static_cast<int64_t>(id), sig);
      raw += '\n';  // the line as generate wrote it: byte-identical to an unsharded run
      sha.Update(raw);
      file_bytes += raw.size();
      if (absl::Status w = out.Write(raw); !w.ok()) return w;
      ++kept;
      text_bytes += text.size();
      const std::string genre = j.value("genre", ""), tmpl = j.value("template", "");
      ++genres[genre];
      ++templates[tmpl];
      std::vector<std::string> labels;
      if (j.contains("facts")) {
        for (const auto& f : j["facts"]) {
          labels.push_back(f.get<std::string>());
          ++facts[labels.back()];
        }
      }
      stats.Add(id, text, CountWords(text), genre, tmpl, labels, similar);
      if (read % 1024 == 0) progress.Update(read, text_bytes);
    }
  }
  if (absl::Status s = out.Commit(); !s.ok()) return s;
  progress.Finish();

  // Filters: what each shard's generate dropped, plus the merge's dedup.
  ojson filters = shards[0].manifest["filters"];
  uint64_t generated = 0;
  std::map<std::string, uint64_t> all_dropped = dropped, mismatches;
  for (const Shard& s : shards) {
    const ojson& f = s.manifest["filters"];
    generated += f.value("generated", uint64_t{0});
    if (f.contains("dropped")) {
      for (const auto& [reason, n] : f["dropped"].items()) all_dropped[reason] += n.get<uint64_t>();
    }
    if (f.contains("coverage_mismatches")) {
      for (const auto& [fact, n] : f["coverage_mismatches"].items()) mismatches[fact] += n.get<uint64_t>();
    }
  }
  filters["generated"] = generated;
  filters["kept"] = kept;
  filters["dropped"] = all_dropped;
  filters["coverage_mismatches"] = mismatches;
  filters["dedup"] = DedupLabel(opt.dedup);
  filters["near_dup_threshold"] = opt.near_dup_threshold;
  CorpusStats st = stats.Finish();
  st.filters = filters;
  const std::string stats_json = StatsToJson(st).dump(2) + "\n";
  if (absl::Status s = WriteFileAtomically((dir / "stats.json").string(), stats_json); !s.ok()) return s;

  ojson m = shards[0].manifest;
  m["config"]["shard"] = {{"index", 0}, {"count", 1}};
  m["config"]["doc_range"] = {shards.front().manifest["config"]["doc_range"][0],
                              shards.back().manifest["config"]["doc_range"][1]};
  ojson from = ojson::array();
  for (const Shard& s : shards) {
    absl::StatusOr<std::string> h = Sha256File((fs::path(s.dir) / "manifest.json").string());
    if (!h.ok()) return h.status();
    from.push_back({{"dir", fs::absolute(s.dir).string()}, {"shard", s.index}, {"manifest_sha256", *h}});
  }
  m["merged_from"] = from;
  m["filters"] = filters;
  m["counts"] = {{"documents", kept}, {"text_bytes", text_bytes}, {"genres", genres}, {"templates", templates},
                 {"facts", facts}};
  m["files"] = {{"docs.jsonl", {{"bytes", file_bytes}, {"sha256", sha.HexDigest()}}},
                {"stats.json", {{"bytes", stats_json.size()}, {"sha256", Sha256Hex(stats_json)}}}};
  if (absl::Status s = WriteFileAtomically((dir / "manifest.json").string(), m.dump(2) + "\n"); !s.ok()) return s;
  return CorpusMergeResult{read, kept};
}

}  // namespace sdft
