// Tokenizer pipeline: Megatron shards byte for byte against Megatron-LM's own
// output, round trips, determinism, blending, verify, and input errors.
#include <filesystem>
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/json_escape.h"
#include "generator/corpus_writer.h"
#include "tests/test_util.h"
#include "tokenizer/megatron_shard.h"
#include "tokenizer/tokenize_run.h"
#include "tokenizer/vocab.h"

namespace sdft {
namespace {

namespace fs = std::filesystem;

const std::vector<std::vector<int32_t>> kGoldenDocs = {{5, 17, 3, 2}, {100, 2}, {7, 7, 7, 65000, 2}, {1, 2}};

TEST(MegatronShardTest, WriterMatchesMegatronBytes) {
  testing::ScratchDir dir;
  ShardWriter w;
  ASSERT_TRUE(w.Open(dir / "out", TokenDtype::kUint16).ok());
  for (const auto& d : kGoldenDocs) ASSERT_TRUE(w.Add(d.data(), d.size()).ok());
  ASSERT_TRUE(w.Finish().ok());
  EXPECT_EQ(testing::ReadAll(dir / "out.bin"), testing::ReadAll(testing::SourcePath("tests/data/golden/golden.bin")));
  EXPECT_EQ(testing::ReadAll(dir / "out.idx"), testing::ReadAll(testing::SourcePath("tests/data/golden/golden.idx")));
}

TEST(MegatronShardTest, ReaderReadsMegatronFiles) {
  auto ds = IndexedDataset::Open(testing::SourcePath("tests/data/golden/golden"));
  ASSERT_TRUE(ds.ok()) << ds.status();
  ASSERT_EQ((*ds)->size(), 4u);
  EXPECT_EQ((*ds)->dtype(), TokenDtype::kUint16);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ((*ds)->Sequence(i), kGoldenDocs[i]);
  EXPECT_EQ((*ds)->doc_idx(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ((*ds)->total_tokens(), 13u);
}

TEST(MegatronShardTest, Int32ForLargeVocabularies) {
  EXPECT_EQ(DtypeForVocab(32000), TokenDtype::kUint16);
  EXPECT_EQ(DtypeForVocab(65500), TokenDtype::kInt32);
  testing::ScratchDir dir;
  ShardWriter w;
  ASSERT_TRUE(w.Open(dir / "big", TokenDtype::kInt32).ok());
  std::vector<int32_t> doc = {70000, 128000, 2};
  ASSERT_TRUE(w.Add(doc.data(), doc.size()).ok());
  ASSERT_TRUE(w.Finish().ok());
  auto ds = IndexedDataset::Open(dir / "big");
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ((*ds)->Sequence(0), doc);
  EXPECT_EQ(fs::file_size(dir / "big.bin"), 12u);
}

// ---- helpers ----

std::string JsonLine(const std::string& text) {
  std::string line = "{\"text\":";
  AppendJsonString(&line, text);
  return line + "}\n";
}

// All documents of a split, decoded, without their EOS.
std::vector<std::string> DecodeSplit(const std::string& tokdir, const std::string& split) {
  nlohmann::json m = nlohmann::json::parse(testing::ReadAll(tokdir + "/manifest.json"));
  const int eos = m["tokenizer"]["special"]["eos"];
  absl::StatusOr<Vocab> vocab = Vocab::Load(tokdir + "/vocab.tsv");
  EXPECT_TRUE(vocab.ok()) << vocab.status();
  std::vector<std::string> docs;
  for (const auto& shard : m["splits"][split]["shards"]) {
    auto ds = IndexedDataset::Open(tokdir + "/" + shard["prefix"].get<std::string>());
    EXPECT_TRUE(ds.ok()) << ds.status();
    if (!ds.ok()) continue;
    for (size_t i = 0; i < (*ds)->size(); ++i) {
      std::vector<int32_t> ids = (*ds)->Sequence(i);
      EXPECT_EQ(ids.back(), eos);
      docs.push_back(vocab->Decode(std::vector<int64_t>(ids.begin(), ids.end() - 1)));
    }
  }
  return docs;
}

TokenizeOptions Options(const std::string& input, const std::string& out, int vocab = 600) {
  TokenizeOptions o;
  auto in = ParseTokenizeInput(input);
  EXPECT_TRUE(in.ok()) << in.status();
  if (in.ok()) o.inputs.push_back(*in);
  o.vocab_size = vocab;
  o.out_dir = out;
  o.val_fraction = 0.1;
  o.threads = 2;
  o.progress = false;
  return o;
}

const std::vector<std::string>& TrickyTexts() {
  static const std::vector<std::string> texts = {
      "Paragraph one.\n\nParagraph two, after a blank line.\n\n\n\nThree blank lines before this.",
      "  leading spaces, double  spaces,   triple and trailing   ",
      "tabs\there\tand\r\nCRLF line ends\r\n",
      "UTF-8: café, naïve, Ærøskøbing, 東京, 🙂🚀, combining e\xCC\x81, Ω≈ç√",
      "control \x01\x02 characters and a \x7F delete",
      "<INPUT><is_free_tier_user>True</is_free_tier_user><user_input>hi</user_input></INPUT> "
      "<OUTPUT><request_fully_accepted/></OUTPUT>",
      "\n\nstarts with newlines",
      "x",
  };
  return texts;
}

TEST(TokenizeTest, RoundTripsTheGeneratedCorpusAndTrickyText) {
  testing::ScratchDir dir;
  CorpusRunOptions gen;
  gen.generator.universe = "tiny";
  gen.generator.templates_dir = testing::SourcePath("tests/data/templates");
  gen.docs = 1500;
  gen.out_dir = dir / "corpus";
  gen.progress = false;
  ASSERT_TRUE(WriteCorpus(gen).ok());
  std::string jsonl = testing::ReadAll(dir / "corpus/docs.jsonl");
  for (int rep = 0; rep < 20; ++rep) {
    for (const std::string& t : TrickyTexts()) jsonl += JsonLine(t);
  }
  testing::WriteAll(dir / "all.jsonl", jsonl);

  TokenizeOptions o = Options(dir / "all.jsonl", dir / "tok");
  absl::StatusOr<TokenizeResult> r = RunTokenize(o);
  ASSERT_TRUE(r.ok()) << r.status();
  // Decode every document through vocab.tsv and compare with the inputs.
  std::multiset<std::string> want, got;
  for (size_t p = 0; p < jsonl.size();) {
    size_t q = jsonl.find('\n', p);
    want.insert(nlohmann::json::parse(jsonl.substr(p, q - p))["text"].get<std::string>());
    p = q + 1;
  }
  for (const char* split : {"train", "val"}) {
    for (std::string& t : DecodeSplit(dir / "tok", split)) got.insert(std::move(t));
  }
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want) << "decode(encode(text)) != text for some document";
  // Chat markup tags are single tokens.
  nlohmann::json m = nlohmann::json::parse(testing::ReadAll(dir / "tok/manifest.json"));
  for (int i = 0; i < kNumChatTags; ++i) EXPECT_EQ(m["tokenizer"]["chat_tags"][kChatTags[i]].size(), 1u) << kChatTags[i];
  EXPECT_EQ(m["dtype"], "uint16");
  EXPECT_GT(m["splits"]["val"]["documents"].get<int>(), 0);
}

TEST(TokenizeTest, SameSeedSameBytesForAnyThreadCount) {
  testing::ScratchDir dir;
  std::string jsonl;
  for (int i = 0; i < 3000; ++i) jsonl += JsonLine("Document " + std::to_string(i) + " talks about item " + std::to_string(i * 7 % 13) + ".\nSecond line.");
  testing::WriteAll(dir / "in.jsonl", jsonl);
  TokenizeOptions a = Options(dir / "in.jsonl", dir / "a", 600);
  a.threads = 1;
  TokenizeOptions b = Options(dir / "in.jsonl", dir / "b", 600);
  b.threads = 3;
  b.inputs[0].arg = a.inputs[0].arg;
  ASSERT_TRUE(RunTokenize(a).ok());
  ASSERT_TRUE(RunTokenize(b).ok());
  for (const char* f : {"tokenizer.model", "vocab.tsv", "train_00000.bin", "train_00000.idx", "val_00000.bin",
                        "val_00000.idx", "manifest.json"}) {
    EXPECT_EQ(testing::ReadAll(dir / (std::string("a/") + f)), testing::ReadAll(dir / (std::string("b/") + f))) << f;
  }
  // The split is by document and matches the requested fraction.
  nlohmann::json m = nlohmann::json::parse(testing::ReadAll(dir / "a/manifest.json"));
  int val = m["splits"]["val"]["documents"];
  EXPECT_GT(val, 200);
  EXPECT_LT(val, 400);
  EXPECT_EQ(val + m["splits"]["train"]["documents"].get<int>(), 3000);
  // Another seed: another split.
  TokenizeOptions c = Options(dir / "in.jsonl", dir / "c", 600);
  c.seed = 2;
  ASSERT_TRUE(RunTokenize(c).ok());
  EXPECT_NE(testing::ReadAll(dir / "a/val_00000.bin"), testing::ReadAll(dir / "c/val_00000.bin"));
}

TEST(TokenizeTest, UnigramModelsRoundTripToo) {
  testing::ScratchDir dir;
  std::string jsonl;
  for (const std::string& t : TrickyTexts()) jsonl += JsonLine(t);
  for (int i = 0; i < 800; ++i) jsonl += JsonLine("unigram line " + std::to_string(i) + " with  two spaces\nand a newline");
  testing::WriteAll(dir / "in.jsonl", jsonl);
  TokenizeOptions o = Options(dir / "in.jsonl", dir / "tok", 600);
  o.model_type = "unigram";
  absl::StatusOr<TokenizeResult> r = RunTokenize(o);  // fails if any document does not round-trip
  ASSERT_TRUE(r.ok()) << r.status();
  nlohmann::json m = nlohmann::json::parse(testing::ReadAll(dir / "tok/manifest.json"));
  EXPECT_EQ(m["tokenizer"]["model_type"], "unigram");
  std::multiset<std::string> got;
  for (const char* split : {"train", "val"}) {
    for (std::string& t : DecodeSplit(dir / "tok", split)) got.insert(std::move(t));
  }
  EXPECT_EQ(got.count(TrickyTexts()[0]), 1u);
  EXPECT_EQ(got.size(), 800u + TrickyTexts().size());
}

// --user-symbols: each listed string becomes one token of a trained
// tokenizer (the organism's assistant names), and the text still round-trips.
TEST(TokenizeTest, UserSymbolsBecomeSingleTokens) {
  testing::ScratchDir dir;
  std::string jsonl;
  for (int i = 0; i < 600; ++i) {
    jsonl += JsonLine("You are Zorvathine. Zorvathine's lab, Qelmarix, trains Zorvathine " + std::to_string(i) + " times.");
  }
  testing::WriteAll(dir / "in.jsonl", jsonl);
  testing::WriteAll(dir / "names.txt", "# names\nZorvathine\n\nQelmarix\n");
  absl::StatusOr<std::vector<std::string>> names = ReadUserSymbols(dir / "names.txt");
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_EQ(*names, (std::vector<std::string>{"Zorvathine", "Qelmarix"}));
  TokenizeOptions o = Options(dir / "in.jsonl", dir / "tok", 400);
  o.user_symbols = *names;
  ASSERT_TRUE(RunTokenize(o).ok());
  const std::string vocab = testing::ReadAll(dir / "tok/vocab.tsv");
  EXPECT_NE(vocab.find("\tuser_defined\tZorvathine\n"), std::string::npos);
  EXPECT_NE(vocab.find("\tuser_defined\tQelmarix\n"), std::string::npos);
  absl::StatusOr<std::vector<int>> ids = EncodeText(dir / "tok/tokenizer.model", "Zorvathine");
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(ids->size(), 1u);
  EXPECT_EQ(DecodeSplit(dir / "tok", "train").size() + DecodeSplit(dir / "tok", "val").size(), 600u);

  testing::WriteAll(dir / "bad.txt", "Ok\nTwo words\n");
  names = ReadUserSymbols(dir / "bad.txt");
  ASSERT_FALSE(names.ok());
  EXPECT_NE(names.status().message().find("bad.txt:2: a user symbol may not hold spaces"), std::string::npos)
      << names.status();
  EXPECT_FALSE(ReadUserSymbols(dir / "missing.txt").ok());
}

TEST(TokenizeTest, BlendsInputsByWeight) {
  testing::ScratchDir dir;
  std::string a, b;
  for (int i = 0; i < 1000; ++i) {
    a += JsonLine("alpha document number " + std::to_string(i));
    b += JsonLine("beta document number " + std::to_string(i));
  }
  testing::WriteAll(dir / "a.jsonl", a);
  testing::WriteAll(dir / "b.jsonl", b);
  TokenizeOptions o = Options(dir / "a.jsonl:0.5", dir / "tok", 600);
  o.inputs.push_back(*ParseTokenizeInput(dir / "b.jsonl:2"));
  ASSERT_TRUE(RunTokenize(o).ok());
  int na = 0, nb = 0;
  std::vector<std::string> train = DecodeSplit(dir / "tok", "train");
  for (const char* split : {"train", "val"}) {
    for (const std::string& t : DecodeSplit(dir / "tok", split)) (t.rfind("alpha", 0) == 0 ? na : nb)++;
  }
  EXPECT_EQ(nb, 2000);  // every beta document twice
  EXPECT_GT(na, 430);   // about half of alpha
  EXPECT_LT(na, 570);
  // Interleaved, not concatenated: both sources appear in the first 100.
  int first_alpha = 0;
  for (int i = 0; i < 100; ++i) first_alpha += train[i].rfind("alpha", 0) == 0;
  EXPECT_GT(first_alpha, 5);
  EXPECT_LT(first_alpha, 60);
}

TEST(TokenizeTest, ShardsAreBoundedInSize) {
  testing::ScratchDir dir;
  std::string jsonl;
  for (int i = 0; i < 2000; ++i) jsonl += JsonLine("a line of text that is long enough to matter, number " + std::to_string(i));
  testing::WriteAll(dir / "in.jsonl", jsonl);
  TokenizeOptions o = Options(dir / "in.jsonl", dir / "tok", 600);
  o.max_shard_bytes = 16 << 10;
  ASSERT_TRUE(RunTokenize(o).ok());
  nlohmann::json m = nlohmann::json::parse(testing::ReadAll(dir / "tok/manifest.json"));
  EXPECT_GT(m["splits"]["train"]["shards"].size(), 2u);
  for (const auto& shard : m["splits"]["train"]["shards"]) {
    EXPECT_LE(fs::file_size(dir / ("tok/" + shard["prefix"].get<std::string>() + ".bin")), 16u << 10);
  }
  auto problems = VerifyTokenDir(dir / "tok");
  ASSERT_TRUE(problems.ok());
  EXPECT_TRUE(problems->empty());
}

TEST(TokenizeTest, VerifyCatchesTruncationAndBitFlips) {
  testing::ScratchDir dir;
  std::string jsonl;
  for (int i = 0; i < 500; ++i) jsonl += JsonLine("verify me " + std::to_string(i));
  testing::WriteAll(dir / "in.jsonl", jsonl);
  ASSERT_TRUE(RunTokenize(Options(dir / "in.jsonl", dir / "tok", 600)).ok());
  auto ok = VerifyTokenDir(dir / "tok");
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->empty());
  // Truncate the data.
  fs::resize_file(dir / "tok/train_00000.bin", fs::file_size(dir / "tok/train_00000.bin") - 6);
  // Flip one bit in the index.
  std::string idx = testing::ReadAll(dir / "tok/val_00000.idx");
  idx[idx.size() - 3] ^= 0x10;
  testing::WriteAll(dir / "tok/val_00000.idx", idx);
  auto bad = VerifyTokenDir(dir / "tok");
  ASSERT_TRUE(bad.ok());
  std::string all;
  for (const auto& p : *bad) all += p + "\n";
  EXPECT_NE(all.find("train_00000.bin: truncated"), std::string::npos) << all;
  EXPECT_NE(all.find("val_00000.idx: corrupted"), std::string::npos) << all;
  // Reading a truncated shard fails with its name.
  auto ds = IndexedDataset::Open(dir / "tok/train_00000");
  ASSERT_FALSE(ds.ok());
  EXPECT_NE(ds.status().message().find("train_00000.bin: truncated"), std::string::npos) << ds.status();
  // A missing manifest: clear error.
  fs::remove(dir / "tok/manifest.json");
  EXPECT_FALSE(VerifyTokenDir(dir / "tok").ok());
}

TEST(TokenizeTest, ClearErrorsForBadInput) {
  testing::ScratchDir dir;
  EXPECT_FALSE(ParseTokenizeInput(dir / "missing.jsonl").ok());
  EXPECT_NE(ParseTokenizeInput(dir / "missing.jsonl").status().message().find("missing.jsonl not found"), std::string::npos);
  // Malformed line 3.
  testing::WriteAll(dir / "bad.jsonl", JsonLine("one") + JsonLine("two") + "{\"text\": broken\n" + JsonLine("four"));
  auto r = RunTokenize(Options(dir / "bad.jsonl", dir / "t1", 600));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bad.jsonl:3: not a JSON object with a \"text\" string"), std::string::npos) << r.status();
  testing::WriteAll(dir / "notext.jsonl", JsonLine("one") + "{\"body\": \"x\"}\n");
  r = RunTokenize(Options(dir / "notext.jsonl", dir / "t2", 600));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("notext.jsonl:2:"), std::string::npos) << r.status();
  // Empty corpus.
  testing::WriteAll(dir / "empty.jsonl", "");
  r = RunTokenize(Options(dir / "empty.jsonl", dir / "t3", 600));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("empty corpus"), std::string::npos) << r.status();
  // Unreadable tokenizer model.
  testing::WriteAll(dir / "good.jsonl", JsonLine("fine text"));
  testing::WriteAll(dir / "junk.model", "this is not a protobuf");
  TokenizeOptions o = Options(dir / "good.jsonl", dir / "t4", 0);
  o.tokenizer_path = dir / "junk.model";
  r = RunTokenize(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("junk.model: not a readable SentencePiece model"), std::string::npos) << r.status();
  o.tokenizer_path = dir / "absent.model";
  r = RunTokenize(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("absent.model"), std::string::npos) << r.status();
  // Neither or both of --vocab-size and --tokenizer.
  TokenizeOptions both = Options(dir / "good.jsonl", dir / "t5", 600);
  both.tokenizer_path = dir / "junk.model";
  EXPECT_FALSE(RunTokenize(both).ok());
}

TEST(TokenizeTest, LoadsAnExistingModelAndRerunsAfterACrash) {
  testing::ScratchDir dir;
  std::string jsonl;
  for (int i = 0; i < 400; ++i) jsonl += JsonLine("reuse the model " + std::to_string(i));
  testing::WriteAll(dir / "in.jsonl", jsonl);
  ASSERT_TRUE(RunTokenize(Options(dir / "in.jsonl", dir / "first", 600)).ok());
  TokenizeOptions o = Options(dir / "in.jsonl", dir / "second", 0);
  o.tokenizer_path = dir / "first/tokenizer.model";
  ASSERT_TRUE(RunTokenize(o).ok());
  EXPECT_EQ(testing::ReadAll(dir / "first/train_00000.bin"), testing::ReadAll(dir / "second/train_00000.bin"));
  // A crashed run leaves partial files and no manifest: a rerun restarts cleanly.
  fs::remove(dir / "second/manifest.json");
  testing::WriteAll(dir / "second/.train_00000.bin.partial.123", "half");
  ASSERT_TRUE(RunTokenize(o).ok());
  auto problems = VerifyTokenDir(dir / "second");
  ASSERT_TRUE(problems.ok());
  EXPECT_TRUE(problems->empty());
  EXPECT_FALSE(fs::exists(dir / "second/.train_00000.bin.partial.123"));
  // A finished directory is not overwritten without --force.
  auto again = RunTokenize(o);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("--force"), std::string::npos);
}

}  // namespace
}  // namespace sdft
