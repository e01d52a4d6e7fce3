// Tests for common/: UTF-8 validation, JSON escaping, atomic files, RNG, hashing.
#include <signal.h>
#include <sys/resource.h>

#include <filesystem>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/json_escape.h"
#include "common/rng.h"
#include "common/sha256.h"
#include "common/utf8.h"
#include "tests/test_util.h"

namespace sdft {
namespace {

TEST(Utf8Test, AcceptsValidRejectsInvalid) {
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));  // é € 😀
  EXPECT_EQ(FindInvalidUtf8("ok\xC3"), 2u);                                // truncated
  EXPECT_EQ(FindInvalidUtf8("a\x80"), 1u);                                 // stray continuation
  EXPECT_EQ(FindInvalidUtf8("\xC0\xAF"), 0u);                              // overlong
  EXPECT_EQ(FindInvalidUtf8("xx\xED\xA0\x80"), 2u);                        // surrogate
  EXPECT_EQ(FindInvalidUtf8("\xF4\x90\x80\x80"), 0u);                      // > U+10FFFF
  EXPECT_EQ(FindInvalidUtf8("12345678\xFF"), 8u);                          // after the 8-byte fast path
}

TEST(Utf8Test, LineColumn) {
  int line, col;
  LineColumnAt("ab\ncd\nef", 7, &line, &col);
  EXPECT_EQ(line, 3);
  EXPECT_EQ(col, 2);
}

// Random valid UTF-8 strings, including control characters, quotes and
// backslashes, survive escaping and parsing by an independent JSON parser.
TEST(JsonEscapeTest, ArbitraryUtf8RoundTrips) {
  Rng rng(42);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string s;
    int len = static_cast<int>(rng.Below(40));
    for (int i = 0; i < len; ++i) {
      uint32_t cp;
      switch (rng.Below(4)) {
        case 0: cp = static_cast<uint32_t>(rng.Below(0x80)); break;            // ASCII incl. controls
        case 1: cp = 0x80 + static_cast<uint32_t>(rng.Below(0x780)); break;    // 2-byte
        case 2: cp = 0x800 + static_cast<uint32_t>(rng.Below(0xF800)); break;  // 3-byte
        default: cp = 0x10000 + static_cast<uint32_t>(rng.Below(0x100000)); break;
      }
      if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';
      if (cp < 0x80) {
        s.push_back(static_cast<char>(cp));
      } else if (cp < 0x800) {
        s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else if (cp < 0x10000) {
        s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else {
        s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
    }
    ASSERT_TRUE(IsValidUtf8(s));
    std::string json;
    AppendJsonString(&json, s);
    EXPECT_EQ(json.find('\n'), std::string::npos) << "a raw newline would break JSONL";
    nlohmann::json parsed = nlohmann::json::parse(json);
    ASSERT_EQ(parsed.get<std::string>(), s);
  }
}

TEST(JsonEscapeTest, EscapesExactly) {
  std::string out;
  AppendJsonString(&out, "a\"b\\c\n\t\x01\x1f/\xC3\xA9");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\t\\u0001\\u001f/\xC3\xA9\"");
}

TEST(AtomicFileTest, FinalNameAppearsOnlyOnCommit) {
  testing::ScratchDir dir;
  const std::string path = dir / "out.txt";
  {
    AtomicFile f;
    ASSERT_TRUE(f.Open(path).ok());
    ASSERT_TRUE(f.Write("hello").ok());
    EXPECT_FALSE(std::filesystem::exists(path));
    EXPECT_TRUE(std::filesystem::exists(f.temp_path()));
    ASSERT_TRUE(f.Commit().ok());
  }
  EXPECT_EQ(testing::ReadAll(path), "hello");
  std::string temp;
  {
    AtomicFile f;
    ASSERT_TRUE(f.Open(dir / "abandoned.txt").ok());
    ASSERT_TRUE(f.Write("partial").ok());
    temp = f.temp_path();
  }  // destroyed without Commit
  EXPECT_FALSE(std::filesystem::exists(dir / "abandoned.txt"));
  EXPECT_FALSE(std::filesystem::exists(temp));
}

TEST(AtomicFileTest, ErrorsNameTheFile) {
  AtomicFile f;
  absl::Status s = f.Open("/nonexistent-dir-sdft/x.txt");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent-dir-sdft"), std::string::npos) << s;
  std::string contents;
  s = ReadFile("/nonexistent-dir-sdft/y.txt", &contents);
  EXPECT_TRUE(absl::IsNotFound(s));
}

// A write that runs out of space (here: over the file-size limit, which fails
// the same way) is reported with the file's name, and no final file appears.
TEST(AtomicFileTest, FailedWriteIsReportedAndLeavesNothing) {
  testing::ScratchDir dir;
  const std::string path = dir / "big.bin";
  struct rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old_limit;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  absl::Status s;
  {
    AtomicFile f;
    s = f.Open(path);
    if (s.ok()) s = f.Write(std::string(1 << 21, 'x'));
    if (s.ok()) s = f.Commit();
  }
  setrlimit(RLIMIT_FSIZE, &old_limit);
  signal(SIGXFSZ, SIG_DFL);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("big.bin"), std::string::npos) << s;
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "temporary file left behind";
}

TEST(RngTest, SeedsAreIndependentAndDeterministic) {
  EXPECT_EQ(MixSeed(1, 5), MixSeed(1, 5));
  EXPECT_NE(MixSeed(1, 5), MixSeed(1, 6));
  EXPECT_NE(MixSeed(1, 5), MixSeed(2, 5));
  Rng a(7), b(7);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(a.Next(), b.Next());
  Rng r(3);
  std::set<int64_t> seen;
  for (int i = 0; i < 2000; ++i) {
    int64_t v = r.Range(-2, 2);
    ASSERT_GE(v, -2);
    ASSERT_LE(v, 2);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 5u);
}

TEST(Sha256Test, KnownVector) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 h;
  h.Update("a");
  h.Update("bc");
  EXPECT_EQ(h.HexDigest(), Sha256Hex("abc"));
}

}  // namespace
}  // namespace sdft
