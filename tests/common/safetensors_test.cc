// Tests for common/safetensors: round trips, byte-exact output against files
// built by hand from the format's definition, and rejection of bad files.
#include "common/safetensors.h"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/rng.h"
#include "tests/test_util.h"

namespace sdft {
namespace {

using ::sdft::testing::ReadAll;
using ::sdft::testing::RunCommand;
using ::sdft::testing::ScratchDir;
using ::sdft::testing::WriteAll;

std::string U64Le(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
  return s;
}

std::string F32Le(std::initializer_list<float> values) {
  std::string s;
  for (float f : values) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>(u >> (8 * i)));
  }
  return s;
}

// A file from a header written out literally; `pad` spaces are appended to it.
std::string FileBytes(const std::string& header, const std::string& data, int pad = -1) {
  std::string h = header;
  if (pad < 0) pad = static_cast<int>((8 - h.size() % 8) % 8);
  h.append(pad, ' ');
  return U64Le(h.size()) + h + data;
}

std::string RandomBytes(Rng* rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng->Next());
  return s;
}

StTensor Make(const std::string& name, StDtype dtype, std::vector<int64_t> shape, Rng* rng) {
  StTensor t{name, dtype, std::move(shape), ""};
  t.data = RandomBytes(rng, static_cast<size_t>(t.NumElements() * StDtypeBytes(dtype)));
  return t;
}

TEST(SafetensorsTest, DtypeNamesAndSizes) {
  EXPECT_EQ(StDtypeName(StDtype::kF32), "F32");
  EXPECT_EQ(StDtypeName(StDtype::kBF16), "BF16");
  EXPECT_EQ(StDtypeName(StDtype::kBool), "BOOL");
  EXPECT_EQ(StDtypeBytes(StDtype::kF64), 8);
  EXPECT_EQ(StDtypeBytes(StDtype::kI64), 8);
  EXPECT_EQ(StDtypeBytes(StDtype::kF32), 4);
  EXPECT_EQ(StDtypeBytes(StDtype::kBF16), 2);
  EXPECT_EQ(StDtypeBytes(StDtype::kF16), 2);
  EXPECT_EQ(StDtypeBytes(StDtype::kI16), 2);
  EXPECT_EQ(StDtypeBytes(StDtype::kU8), 1);
  EXPECT_EQ(StDtypeBytes(StDtype::kBool), 1);
  for (StDtype d : {StDtype::kF32, StDtype::kF16, StDtype::kBF16, StDtype::kF64, StDtype::kI64, StDtype::kI32,
                    StDtype::kI16, StDtype::kI8, StDtype::kU8, StDtype::kBool}) {
    EXPECT_EQ(StDtypeFromName(StDtypeName(d)), d);
  }
  EXPECT_FALSE(StDtypeFromName("f32").has_value());
  EXPECT_FALSE(StDtypeFromName("F8_E4M3").has_value());
}

TEST(SafetensorsTest, RoundTripsDtypesAndShapes) {
  ScratchDir dir;
  Rng rng(7);
  std::vector<StTensor> tensors = {
      Make("model.layers.0.weight", StDtype::kBF16, {3, 5}, &rng),
      Make("model.layers.0.bias", StDtype::kF32, {5}, &rng),
      Make("half", StDtype::kF16, {1, 1, 3}, &rng),
      Make("scalar_f64", StDtype::kF64, {}, &rng),  // 0-d: one element
      Make("scalar_bool", StDtype::kBool, {}, &rng),
      Make("ids", StDtype::kI64, {4}, &rng),
      Make("empty_i32", StDtype::kI32, {0}, &rng),
      Make("empty_i16", StDtype::kI16, {2, 0, 3}, &rng),
      Make("bytes", StDtype::kU8, {7}, &rng),
      Make("signed", StDtype::kI8, {3, 1}, &rng),
      Make("mask", StDtype::kBool, {2, 2}, &rng),
  };
  EXPECT_EQ(tensors[3].data.size(), 8u);
  EXPECT_EQ(tensors[6].data.size(), 0u);
  const std::string path = dir / "model.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, tensors).ok());

  absl::StatusOr<SafetensorsFile> file = ReadSafetensors(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(file->metadata.empty());
  ASSERT_EQ(file->tensors.size(), tensors.size());
  for (size_t i = 1; i < file->tensors.size(); ++i) {
    EXPECT_LT(file->tensors[i - 1].name, file->tensors[i].name) << "tensors come back sorted by name";
  }
  for (const StTensor& want : tensors) {
    const StTensor* got = file->Find(want.name);
    ASSERT_NE(got, nullptr) << want.name;
    EXPECT_EQ(got->dtype, want.dtype) << want.name;
    EXPECT_EQ(got->shape, want.shape) << want.name;
    EXPECT_EQ(got->data, want.data) << want.name;
  }
  EXPECT_EQ(file->Find("nope"), nullptr);

  // EncodeSafetensors gives the same bytes, and every tensor starts aligned
  // to its element size within the file.
  absl::StatusOr<std::string> bytes = EncodeSafetensors(tensors, {});
  ASSERT_TRUE(bytes.ok());
  const std::string on_disk = ReadAll(path);
  EXPECT_EQ(*bytes, on_disk);
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | static_cast<unsigned char>(on_disk[i]);
  EXPECT_EQ(header_size % 8, 0u);
  nlohmann::json header = nlohmann::json::parse(on_disk.substr(8, header_size));
  for (const StTensor& t : file->tensors) {
    uint64_t begin = header.at(t.name).at("data_offsets").at(0).get<uint64_t>();
    EXPECT_EQ((8 + header_size + begin) % StDtypeBytes(t.dtype), 0u) << t.name;
  }

  // Rewriting what was read reproduces the file exactly.
  absl::StatusOr<std::string> again = EncodeSafetensors(file->tensors, file->metadata);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, on_disk);
}

// One F32 tensor of shape [2] holding {1, 2}, built from the format's
// definition: 54 header bytes + 2 spaces of padding = 56 = 0x38.
TEST(SafetensorsTest, ByteExactSingleTensor) {
  ScratchDir dir;
  const std::string expected =
      std::string("\x38\x00\x00\x00\x00\x00\x00\x00", 8) +
      R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})" + "  " +
      std::string("\x00\x00\x80\x3f\x00\x00\x00\x40", 8);
  ASSERT_EQ(expected.size(), 8u + 56u + 8u);
  const std::string path = dir / "x.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, {{"x", StDtype::kF32, {2}, F32Le({1.0f, 2.0f})}}).ok());
  EXPECT_EQ(ReadAll(path), expected);

  // And the hand-built file reads back.
  WriteAll(dir / "hand.safetensors", expected);
  absl::StatusOr<SafetensorsFile> file = ReadSafetensors(dir / "hand.safetensors");
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ(file->tensors.size(), 1u);
  EXPECT_EQ(file->tensors[0].name, "x");
  EXPECT_EQ(file->tensors[0].dtype, StDtype::kF32);
  EXPECT_EQ(file->tensors[0].shape, std::vector<int64_t>({2}));
  EXPECT_EQ(file->tensors[0].data, F32Le({1.0f, 2.0f}));
}

// The layouts the reference implementation's own tests pin down.
TEST(SafetensorsTest, ByteExactReferenceLayouts) {
  const std::string f32_0to5 = F32Le({0, 1, 2, 3, 4, 5});
  // A 64-byte header needs no padding.
  absl::StatusOr<std::string> out = EncodeSafetensors({{"attn.0", StDtype::kF32, {1, 2, 3}, f32_0to5}}, {});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, U64Le(64) + R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})" + f32_0to5);
  // 65 bytes pad to 72.
  out = EncodeSafetensors({{"attn0", StDtype::kF32, {1, 1, 2, 3}, f32_0to5}}, {});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out,
            U64Le(72) + R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}})" + "       " + f32_0to5);
  // No tensors at all.
  out = EncodeSafetensors({}, {});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, U64Le(8) + "{}      ");
  // Metadata only.
  out = EncodeSafetensors({}, {{"framework", "pt"}});
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, U64Le(40) + R"({"__metadata__":{"framework":"pt"}})" + "     ");
}

// Mixed dtypes: larger elements first so each tensor stays aligned, then by
// name (the reference writer's order).
TEST(SafetensorsTest, ByteExactMixedDtypeLayout) {
  std::vector<StTensor> tensors = {
      {"a", StDtype::kU8, {3}, std::string("\x01\x02\x03", 3)},
      {"c", StDtype::kF32, {1}, F32Le({1.0f})},
      {"b", StDtype::kF32, {}, F32Le({2.0f})},
  };
  absl::StatusOr<std::string> out = EncodeSafetensors(tensors, {{"k", "v"}});
  ASSERT_TRUE(out.ok());
  const std::string header =
      R"({"__metadata__":{"k":"v"},"b":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
      R"("c":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"a":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}})";
  EXPECT_EQ(*out, FileBytes(header, F32Le({2.0f}) + F32Le({1.0f}) + std::string("\x01\x02\x03", 3)));
}

// Files from other writers: any key order, tensors listed out of offset order,
// extra padding, a null __metadata__.
TEST(SafetensorsTest, ReadsHandBuiltFiles) {
  ScratchDir dir;
  const std::string path = dir / "other.safetensors";
  WriteAll(path, FileBytes(R"({"z":{"shape":[2],"data_offsets":[2,4],"dtype":"U8"},)"
                           R"("__metadata__":{"format":"pt"},"y":{"data_offsets":[0,2],"dtype":"I16","shape":[]}})",
                           std::string("\x34\x12\xAA\xBB", 4), /*pad=*/13));
  absl::StatusOr<SafetensorsFile> file = ReadSafetensors(path);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ(file->tensors.size(), 2u);
  EXPECT_EQ(file->tensors[0].name, "y");
  EXPECT_EQ(file->tensors[0].dtype, StDtype::kI16);
  EXPECT_TRUE(file->tensors[0].shape.empty());
  EXPECT_EQ(file->tensors[0].data, std::string("\x34\x12", 2));
  EXPECT_EQ(file->tensors[1].name, "z");
  EXPECT_EQ(file->tensors[1].data, std::string("\xAA\xBB", 2));
  EXPECT_EQ(file->metadata, (std::map<std::string, std::string>{{"format", "pt"}}));

  WriteAll(path, FileBytes(R"({"__metadata__":null,"e":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]}})", ""));
  file = ReadSafetensors(path);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ(file->tensors.size(), 1u);
  EXPECT_EQ(file->tensors[0].shape, std::vector<int64_t>({0, 4}));
  EXPECT_TRUE(file->tensors[0].data.empty());
  EXPECT_TRUE(file->metadata.empty());
}

TEST(SafetensorsTest, MetadataRoundTrips) {
  ScratchDir dir;
  Rng rng(3);
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"},
      {"config", R"({"r": 8, "alpha": 16.0, "targets": ["q_proj", "v_proj"]})"},
      {"note", "line one\nline two\ttab \"quoted\" back\\slash \x01"},
      {"unicode", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},
      {"empty", ""},
  };
  const std::string path = dir / "adapter.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, {Make("w", StDtype::kBF16, {2, 2}, &rng)}, metadata).ok());
  absl::StatusOr<SafetensorsFile> file = ReadSafetensors(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->metadata, metadata);
  ASSERT_EQ(file->tensors.size(), 1u);

  // Metadata without tensors.
  ASSERT_TRUE(WriteSafetensors(path, {}, {{"only", "metadata"}}).ok());
  file = ReadSafetensors(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(file->tensors.empty());
  EXPECT_EQ(file->metadata.at("only"), "metadata");
}

TEST(SafetensorsTest, OverwritesAtomicallyLeavingNoTemporaries) {
  ScratchDir dir;
  const std::string path = dir / "m.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, {{"a", StDtype::kU8, {1}, "x"}}).ok());
  ASSERT_TRUE(WriteSafetensors(path, {{"b", StDtype::kU8, {2}, "yz"}}).ok());
  absl::StatusOr<SafetensorsFile> file = ReadSafetensors(path);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_EQ(file->tensors.size(), 1u);
  EXPECT_EQ(file->tensors[0].name, "b");
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    ++entries;
    EXPECT_EQ(e.path().filename(), "m.safetensors");
  }
  EXPECT_EQ(entries, 1);
}

TEST(SafetensorsTest, WriterRejectsInconsistentTensors) {
  ScratchDir dir;
  const std::string path = dir / "bad.safetensors";
  struct Case {
    std::vector<StTensor> tensors;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{{"w", StDtype::kF32, {2, 2}, std::string(15, '\0')}}, "needs 16"},
      {{{"w", StDtype::kF32, {}, std::string(8, '\0')}}, "needs 4"},
      {{{"w", StDtype::kU8, {-1}, ""}}, "invalid shape"},
      {{{"w", StDtype::kU8, {1}, "a"}, {"w", StDtype::kU8, {1}, "b"}}, "appears twice"},
      {{{"__metadata__", StDtype::kU8, {1}, "a"}}, "reserved"},
      {{{"bad\xFF", StDtype::kU8, {1}, "a"}}, "UTF-8"},
  };
  for (const Case& c : cases) {
    absl::Status s = WriteSafetensors(path, c.tensors);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_NE(s.message().find(path), std::string::npos) << s;
    EXPECT_NE(s.message().find(c.message), std::string::npos) << s;
  }
  absl::Status s = WriteSafetensors(path, {}, {{"k", "\xC0\xAF"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "nothing written, no temporaries left";
}

// Each bad file is rejected with a message naming the file and the problem.
TEST(SafetensorsTest, ReaderRejectsBadFiles) {
  ScratchDir dir;
  const std::string path = dir / "bad.safetensors";
  const std::string good_header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string good = FileBytes(good_header, F32Le({1, 2}));
  struct Case {
    std::string name;
    std::string bytes;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"empty file", "", "truncated"},
      {"shorter than the size field", std::string("\x08\x00\x00", 3), "truncated"},
      {"header larger than the file", U64Le(1000) + good_header, "truncated"},
      {"header size absurd", U64Le(uint64_t{1} << 40) + good_header, "corrupted header"},
      {"data cut short", good.substr(0, good.size() - 1), "truncated"},
      {"trailing bytes", good + "!", "after the last tensor"},
      {"invalid JSON", FileBytes(R"({"x":{"dtype":"F32",)", ""), "invalid JSON"},
      {"not UTF-8", FileBytes("{\"x\xFF\":{}}", ""), "invalid JSON"},
      {"not starting with {", FileBytes(R"( {"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", F32Le({1, 2})),
       "does not start with '{'"},
      {"not an object", FileBytes("[1,2]", ""), "does not start with '{'"},
      {"zero header size", U64Le(0), "does not start with '{'"},
      {"offsets mismatch shape", FileBytes(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", F32Le({1, 2})),
       "data_offsets [0, 8] span 8 bytes, but shape [3] of F32 needs 12"},
      {"offsets reversed", FileBytes(R"({"x":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}})", F32Le({1, 2})),
       "data_offsets"},
      {"unknown dtype", FileBytes(R"({"x":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", F32Le({1, 2})),
       "unknown dtype \"Q4\""},
      {"unsupported dtype", FileBytes(R"({"x":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}})", F32Le({1, 2})),
       "unknown dtype \"F8_E4M3\""},
      {"missing dtype", FileBytes(R"({"x":{"shape":[2],"data_offsets":[0,8]}})", F32Le({1, 2})), "dtype"},
      {"negative dim", FileBytes(R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", F32Le({1, 2})),
       "shape"},
      {"fractional dim", FileBytes(R"({"x":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", F32Le({1, 2})),
       "shape"},
      {"shape overflow",
       FileBytes(R"({"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", F32Le({1, 2})),
       "overflows"},
      {"offsets past the buffer", FileBytes(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", F32Le({1})),
       "truncated"},
      {"overlap",
       FileBytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                 F32Le({1, 2})),
       "overlaps"},
      {"hole", FileBytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", F32Le({1, 2})),
       "belong to no tensor"},
      {"duplicate tensor",
       FileBytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                 F32Le({1, 2})),
       "'a' appears twice"},
      {"metadata not strings", FileBytes(R"({"__metadata__":{"epochs":3}})", ""), "not a string"},
      {"metadata not an object", FileBytes(R"({"__metadata__":"x"})", ""), "not an object"},
      {"tensor not an object", FileBytes(R"({"x":5})", ""), "not an object"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    WriteAll(path, c.bytes);
    absl::StatusOr<SafetensorsFile> file = ReadSafetensors(path);
    ASSERT_FALSE(file.ok());
    EXPECT_EQ(file.status().code(), absl::StatusCode::kDataLoss) << file.status();
    EXPECT_EQ(file.status().message().rfind(path + ": ", 0), 0u) << file.status();
    EXPECT_NE(file.status().message().find(c.message), std::string::npos) << file.status();
  }
}

TEST(SafetensorsTest, ReaderReportsMissingFileAndDirectory) {
  ScratchDir dir;
  const std::string path = dir / "missing.safetensors";
  absl::StatusOr<SafetensorsFile> file = ReadSafetensors(path);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound) << file.status();
  EXPECT_NE(file.status().message().find(path), std::string::npos) << file.status();

  file = ReadSafetensors(dir.path());
  ASSERT_FALSE(file.ok());
  EXPECT_NE(file.status().message().find(dir.path()), std::string::npos) << file.status();
}

// The first Python interpreter that can import `modules`, or "".
std::string FindPython(const std::string& modules) {
  for (const char* python : {"python3", "/usr/bin/python3"}) {
    if (RunCommand(std::string(python) + " -c 'import " + modules + "'").exit_code == 0) return python;
  }
  return "";
}

// Interoperability with the reference Python implementation, where installed
// (python3 with numpy and safetensors); skipped otherwise.
TEST(SafetensorsTest, MatchesPythonSafetensors) {
  const std::string python = FindPython("numpy, safetensors.numpy");
  if (python.empty()) GTEST_SKIP() << "no python3 with numpy and safetensors";
  ScratchDir dir;
  const std::string ours = dir / "ours.safetensors", theirs = dir / "theirs.safetensors";
  std::string i64;
  for (int64_t v : {int64_t{1}, int64_t{-2}}) {
    for (int i = 0; i < 8; ++i) i64.push_back(static_cast<char>(static_cast<uint64_t>(v) >> (8 * i)));
  }
  std::vector<StTensor> tensors = {{"w", StDtype::kF32, {2, 3}, F32Le({0, 1, 2, 3, 4, 5})},
                                   {"b", StDtype::kI64, {2}, i64},
                                   {"m", StDtype::kU8, {}, std::string("\x07", 1)}};
  ASSERT_TRUE(WriteSafetensors(ours, tensors).ok());
  const std::string script =
      "import numpy as np, sys\n"
      "from safetensors.numpy import save_file, load_file\n"
      "t = load_file(sys.argv[1])\n"
      "assert sorted(t) == ['b', 'm', 'w'], sorted(t)\n"
      "assert t['w'].dtype == np.float32 and t['w'].shape == (2, 3)\n"
      "assert (t['w'] == np.arange(6, dtype=np.float32).reshape(2, 3)).all()\n"
      "assert t['b'].dtype == np.int64 and list(t['b']) == [1, -2]\n"
      "assert t['m'].dtype == np.uint8 and t['m'].shape == () and int(t['m']) == 7\n"
      "save_file({'w': np.arange(6, dtype=np.float32).reshape(2, 3), 'b': np.array([1, -2], dtype=np.int64),\n"
      "           'm': np.array(7, dtype=np.uint8)}, sys.argv[2])\n"
      "print('python ok')\n";
  WriteAll(dir / "check.py", script);
  sdft::testing::CommandResult r = RunCommand(python + " " + (dir / "check.py") + " " + ours + " " + theirs);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Same tensors, same bytes.
  EXPECT_EQ(ReadAll(theirs), ReadAll(ours));
  absl::StatusOr<SafetensorsFile> file = ReadSafetensors(theirs);
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_NE(file->Find("w"), nullptr);
  EXPECT_EQ(file->Find("w")->data, tensors[0].data);
}

// An independent decoder written from the format's definition in Python
// (struct + json + numpy, which Debian's python3 has) reads our file, and
// writes one by hand for us to read; skipped without numpy.
TEST(SafetensorsTest, IndependentPythonDecoderAgrees) {
  const std::string python = FindPython("numpy");
  if (python.empty()) GTEST_SKIP() << "no python3 with numpy";
  ScratchDir dir;
  const std::string ours = dir / "ours.safetensors", theirs = dir / "theirs.safetensors";
  std::string f16_one_two("\x00\x3c\x00\x40", 4);  // 1.0, 2.0 in IEEE half
  std::string i64;
  for (int64_t v : {int64_t{1}, int64_t{-2}, int64_t{1} << 40}) {
    for (int i = 0; i < 8; ++i) i64.push_back(static_cast<char>(static_cast<uint64_t>(v) >> (8 * i)));
  }
  std::vector<StTensor> tensors = {{"w", StDtype::kF32, {2, 3}, F32Le({0, 1.5f, 2, 3, 4, -5})},
                                   {"ids", StDtype::kI64, {3}, i64},
                                   {"h", StDtype::kF16, {2, 1}, f16_one_two},
                                   {"flag", StDtype::kBool, {}, std::string("\x01", 1)},
                                   {"none", StDtype::kI32, {0, 2}, ""}};
  ASSERT_TRUE(WriteSafetensors(ours, tensors, {{"format", "pt"}}).ok());
  const std::string script = R"PY(
import json, struct, sys
import numpy as np
NP = {'F64': '<f8', 'F32': '<f4', 'F16': '<f2', 'I64': '<i8', 'I32': '<i4', 'I16': '<i2',
      'I8': 'i1', 'U8': 'u1', 'BOOL': '?'}
raw = open(sys.argv[1], 'rb').read()
(n,) = struct.unpack('<Q', raw[:8])
assert n % 8 == 0 and raw[8:9] == b'{', n
header = json.loads(raw[8:8 + n].decode('utf-8'))
buf = raw[8 + n:]
assert header.pop('__metadata__') == {'format': 'pt'}
end = 0
t = {}
for name, info in sorted(header.items(), key=lambda kv: kv[1]['data_offsets']):
    b, e = info['data_offsets']
    assert b == end, (name, b, end)
    end = e
    a = np.frombuffer(buf[b:e], dtype=NP[info['dtype']]).reshape(info['shape'])
    assert (8 + n + b) % a.itemsize == 0, name
    t[name] = a
assert end == len(buf)
assert (t['w'] == np.array([[0, 1.5, 2], [3, 4, -5]], dtype=np.float32)).all()
assert t['ids'].tolist() == [1, -2, 1 << 40]
assert t['h'].shape == (2, 1) and t['h'].ravel().tolist() == [1.0, 2.0]
assert t['flag'].shape == () and bool(t['flag']) is True
assert t['none'].shape == (0, 2)
# Write one by hand, tensors in the opposite order, unpadded header.
a = np.arange(4, dtype='<i2').reshape(2, 2)
c = np.array([0.25], dtype='<f8')
h = json.dumps({'c': {'dtype': 'F64', 'shape': [1], 'data_offsets': [8, 16]},
                'a': {'dtype': 'I16', 'shape': [2, 2], 'data_offsets': [0, 8]},
                '__metadata__': {'by': 'python'}}).encode()
open(sys.argv[2], 'wb').write(struct.pack('<Q', len(h)) + h + a.tobytes() + c.tobytes())
print('python ok')
)PY";
  WriteAll(dir / "check.py", script);
  sdft::testing::CommandResult r = RunCommand(python + " " + (dir / "check.py") + " " + ours + " " + theirs);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  absl::StatusOr<SafetensorsFile> file = ReadSafetensors(theirs);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->metadata.at("by"), "python");
  ASSERT_NE(file->Find("a"), nullptr);
  EXPECT_EQ(file->Find("a")->data, std::string("\x00\x00\x01\x00\x02\x00\x03\x00", 8));
  EXPECT_EQ(file->Find("a")->shape, std::vector<int64_t>({2, 2}));
  ASSERT_NE(file->Find("c"), nullptr);
  EXPECT_EQ(file->Find("c")->dtype, StDtype::kF64);
  EXPECT_EQ(file->Find("c")->data, std::string("\x00\x00\x00\x00\x00\x00\xd0\x3f", 8));  // 0.25
}

}  // namespace
}  // namespace sdft
