#include "tokenizer/merge_tokens.h"

#include <filesystem>
#include <memory>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/atomic_file.h"
#include "common/interrupt.h"
#include "common/sha256.h"
#include "tokenizer/megatron_shard.h"
#include "tokenizer/tokenize_run.h"

namespace sdft {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

absl::StatusOr<ojson> ReadManifest(const std::string& dir) {
  std::string text;
  if (!ReadFile((fs::path(dir) / "manifest.json").string(), &text).ok()) {
    return absl::NotFoundError(absl::StrCat(dir, ": no manifest.json (not a finished token directory)"));
  }
  ojson m = ojson::parse(text, nullptr, false);
  if (m.is_discarded() || m.value("kind", "") != "tokens" || !m.contains("splits") || !m.contains("tokenizer")) {
    return absl::DataLossError(absl::StrCat(dir, "/manifest.json: not a token manifest"));
  }
  return m;
}

}  // namespace

absl::StatusOr<MergeResult> MergeTokenDirs(const std::vector<std::string>& inputs, const std::string& out_dir,
                                           bool force) {
  if (inputs.empty()) return absl::InvalidArgumentError("merge: give the token directories to merge");
  // Every input must be intact and written with the same tokenizer.
  std::vector<ojson> manifests;
  for (const std::string& in : inputs) {
    absl::StatusOr<ojson> m = ReadManifest(in);
    if (!m.ok()) return m.status();
    absl::StatusOr<std::vector<std::string>> problems = VerifyTokenDir(in);
    if (!problems.ok()) return problems.status();
    if (!problems->empty()) {
      return absl::DataLossError(absl::StrCat(in, " fails verification: ", problems->front(),
                                              problems->size() > 1 ? absl::StrCat(" (and ", problems->size() - 1, " more)") : ""));
    }
    if (!manifests.empty()) {
      const ojson& first = manifests.front();
      if ((*m)["tokenizer"]["sha256"] != first["tokenizer"]["sha256"]) {
        return absl::InvalidArgumentError(absl::StrCat(in, ": tokenized with a different tokenizer than ", inputs[0],
                                                       " (tokenizer.model sha256 differs)"));
      }
      if ((*m)["dtype"] != first["dtype"]) {
        return absl::InvalidArgumentError(absl::StrCat(in, ": dtype ", (*m)["dtype"].dump(), " differs from ", inputs[0]));
      }
    }
    manifests.push_back(*m);
  }
  const fs::path dir(out_dir);
  std::error_code ec;
  if (fs::exists(dir) && !fs::is_empty(dir)) {
    if (!force) return absl::AlreadyExistsError(absl::StrCat(out_dir, ": exists and is not empty (pass --force to replace it)"));
    fs::remove(dir / "manifest.json", ec);  // first, so a failed merge never looks finished
    fs::remove_all(dir, ec);
  }
  fs::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(out_dir, ": cannot create: ", ec.message()));
  for (const char* f : {"tokenizer.model", "vocab.tsv"}) {
    std::string bytes;
    if (absl::Status s = ReadFile((fs::path(inputs[0]) / f).string(), &bytes); !s.ok()) return s;
    if (absl::Status s = WriteFileAtomically((dir / f).string(), bytes); !s.ok()) return s;
  }
  const TokenDtype dtype = manifests[0]["dtype"] == "int32" ? TokenDtype::kInt32 : TokenDtype::kUint16;

  MergeResult result;
  ojson splits = ojson::object();
  std::vector<int32_t> buf;
  for (const char* split : {"train", "val"}) {
    const std::string prefix = absl::StrFormat("%s_00000", split);
    ShardWriter writer;
    if (absl::Status s = writer.Open((dir / prefix).string(), dtype); !s.ok()) return s;
    for (size_t k = 0; k < inputs.size(); ++k) {
      if (!manifests[k]["splits"].contains(split)) continue;
      for (const auto& shard : manifests[k]["splits"][split]["shards"]) {
        const std::string in_prefix = (fs::path(inputs[k]) / shard["prefix"].get<std::string>()).string();
        absl::StatusOr<std::unique_ptr<IndexedDataset>> ds = IndexedDataset::Open(in_prefix);
        if (!ds.ok()) return ds.status();
        for (size_t i = 0; i < (*ds)->size(); ++i) {
          if (Interrupted()) return absl::CancelledError("interrupted");
          buf.resize((*ds)->length(i));
          (*ds)->Read(i, 0, buf.size(), buf.data());
          if (absl::Status s = writer.Add(buf.data(), buf.size()); !s.ok()) return s;
        }
      }
    }
    if (absl::Status s = writer.Finish(); !s.ok()) return s;
    ojson files = ojson::array();
    files.push_back({{"prefix", prefix}, {"documents", writer.sequences()}, {"tokens", writer.tokens()}});
    splits[split] = {{"documents", writer.sequences()}, {"tokens", writer.tokens()}, {"shards", files}};
    result.documents += writer.sequences();
    result.tokens += writer.tokens();
  }

  // The manifest, last.
  ojson m;
  m["tool"] = "sdft";
  m["version"] = manifests[0].value("version", "");
  m["kind"] = "tokens";
  m["tokenizer"] = manifests[0]["tokenizer"];
  m["dtype"] = manifests[0]["dtype"];
  m["config"] = manifests[0]["config"];
  ojson from = ojson::array();
  ojson inputs_all = ojson::array();
  for (size_t k = 0; k < inputs.size(); ++k) {
    absl::StatusOr<std::string> h = Sha256File((fs::path(inputs[k]) / "manifest.json").string());
    if (!h.ok()) return h.status();
    from.push_back({{"dir", fs::absolute(inputs[k]).string()}, {"manifest_sha256", *h},
                    {"shard", manifests[k].contains("shard") ? manifests[k]["shard"] : ojson()}});
    if (k == 0 && manifests[k].contains("inputs")) inputs_all = manifests[k]["inputs"];
  }
  m["merged_from"] = from;
  m["inputs"] = inputs_all;
  ojson files = ojson::object();
  auto add_file = [&](const std::string& name) -> absl::Status {
    absl::StatusOr<std::string> h = Sha256File((dir / name).string());
    if (!h.ok()) return h.status();
    files[name] = {{"bytes", fs::file_size(dir / name)}, {"sha256", *h}};
    return absl::OkStatus();
  };
  for (const std::string f : {"tokenizer.model", "vocab.tsv", "train_00000.bin", "train_00000.idx", "val_00000.bin",
                              "val_00000.idx"}) {
    if (absl::Status s = add_file(f); !s.ok()) return s;
  }
  m["splits"] = splits;
  m["files"] = files;
  m["totals"] = {{"documents", result.documents}, {"tokens", result.tokens}};
  if (absl::Status s = WriteFileAtomically((dir / "manifest.json").string(), m.dump(2) + "\n"); !s.ok()) return s;
  return result;
}

}  // namespace sdft
