#include "common/safetensors.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numeric>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/atomic_file.h"
#include "common/utf8.h"

namespace sdft {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference's limit
constexpr const char* kMetadataKey = "__metadata__";
constexpr StDtype kAllDtypes[] = {StDtype::kF32, StDtype::kF16, StDtype::kBF16, StDtype::kF64, StDtype::kI64,
                                  StDtype::kI32, StDtype::kI16, StDtype::kI8,   StDtype::kU8,  StDtype::kBool};

// Position in the reference implementation's Dtype enum, which is ordered by
// alignment; its writer lays tensors out by descending rank, then by name.
int ReferenceRank(StDtype d) {
  switch (d) {
    case StDtype::kBool: return 0;
    case StDtype::kU8: return 1;
    case StDtype::kI8: return 2;
    case StDtype::kI16: return 5;
    case StDtype::kF16: return 7;
    case StDtype::kBF16: return 8;
    case StDtype::kI32: return 9;
    case StDtype::kF32: return 11;
    case StDtype::kF64: return 12;
    case StDtype::kI64: return 13;
  }
  return 0;
}

std::string ShapeString(const std::vector<int64_t>& shape) { return absl::StrCat("[", absl::StrJoin(shape, ", "), "]"); }

// Element count of `shape` times `elem_bytes`; false on a negative dim or overflow.
bool ByteSize(const std::vector<int64_t>& shape, int elem_bytes, uint64_t* bytes) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) return false;
  }
  return !__builtin_mul_overflow(n, static_cast<uint64_t>(elem_bytes), bytes);
}

std::string EncodeU64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}

// Validates `tensors`, and returns the padded JSON header and the order in
// which their data follows it.
absl::Status PrepareHeader(const std::vector<StTensor>& tensors, const std::map<std::string, std::string>& metadata,
                           const std::string& what, std::string* header, std::vector<size_t>* order) {
  auto bad = [&](const std::string& msg) { return absl::InvalidArgumentError(absl::StrCat(what, ": ", msg)); };
  std::set<std::string_view> names;
  for (const StTensor& t : tensors) {
    if (!IsValidUtf8(t.name)) return bad("a tensor name is not valid UTF-8");
    if (t.name == kMetadataKey) return bad("\"__metadata__\" is reserved and cannot name a tensor");
    if (!names.insert(t.name).second) return bad(absl::StrCat("tensor '", t.name, "' appears twice"));
    uint64_t bytes;
    if (!ByteSize(t.shape, StDtypeBytes(t.dtype), &bytes)) {
      return bad(absl::StrCat("tensor '", t.name, "': invalid shape ", ShapeString(t.shape)));
    }
    if (bytes != t.data.size()) {
      return bad(absl::StrCat("tensor '", t.name, "': data is ", t.data.size(), " bytes, but shape ",
                              ShapeString(t.shape), " of ", StDtypeName(t.dtype), " needs ", bytes));
    }
  }
  for (const auto& [k, v] : metadata) {
    if (!IsValidUtf8(k) || !IsValidUtf8(v)) return bad("a metadata key or value is not valid UTF-8");
  }

  order->resize(tensors.size());
  std::iota(order->begin(), order->end(), size_t{0});
  std::sort(order->begin(), order->end(), [&](size_t a, size_t b) {
    int ra = ReferenceRank(tensors[a].dtype), rb = ReferenceRank(tensors[b].dtype);
    if (ra != rb) return ra > rb;
    return tensors[a].name < tensors[b].name;
  });

  // Key order as the reference writes it: metadata first, then tensors in data
  // order, each as dtype, shape, data_offsets.
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  if (!metadata.empty()) json[kMetadataKey] = metadata;
  uint64_t offset = 0;
  for (size_t i : *order) {
    const StTensor& t = tensors[i];
    nlohmann::ordered_json info = nlohmann::ordered_json::object();
    info["dtype"] = StDtypeName(t.dtype);
    info["shape"] = t.shape;
    info["data_offsets"] = {offset, offset + t.data.size()};
    offset += t.data.size();
    json[t.name] = std::move(info);
  }
  try {
    *header = json.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::ordered_json::error_handler_t::strict);
  } catch (const nlohmann::json::exception& e) {
    return bad(absl::StrCat("cannot encode the header: ", e.what()));
  }
  header->append((8 - header->size() % 8) % 8, ' ');
  return absl::OkStatus();
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

int StDtypeBytes(StDtype dtype) {
  switch (dtype) {
    case StDtype::kF64:
    case StDtype::kI64: return 8;
    case StDtype::kF32:
    case StDtype::kI32: return 4;
    case StDtype::kF16:
    case StDtype::kBF16:
    case StDtype::kI16: return 2;
    case StDtype::kI8:
    case StDtype::kU8:
    case StDtype::kBool: return 1;
  }
  return 1;
}

std::string StDtypeName(StDtype dtype) {
  switch (dtype) {
    case StDtype::kF32: return "F32";
    case StDtype::kF16: return "F16";
    case StDtype::kBF16: return "BF16";
    case StDtype::kF64: return "F64";
    case StDtype::kI64: return "I64";
    case StDtype::kI32: return "I32";
    case StDtype::kI16: return "I16";
    case StDtype::kI8: return "I8";
    case StDtype::kU8: return "U8";
    case StDtype::kBool: return "BOOL";
  }
  return "?";
}

std::optional<StDtype> StDtypeFromName(std::string_view name) {
  for (StDtype d : kAllDtypes) {
    if (StDtypeName(d) == name) return d;
  }
  return std::nullopt;
}

int64_t StTensor::NumElements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const StTensor* SafetensorsFile::Find(const std::string& name) const {
  for (const StTensor& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

absl::StatusOr<std::string> EncodeSafetensors(const std::vector<StTensor>& tensors,
                                              const std::map<std::string, std::string>& metadata,
                                              const std::string& what) {
  std::string header;
  std::vector<size_t> order;
  if (absl::Status s = PrepareHeader(tensors, metadata, what, &header, &order); !s.ok()) return s;
  std::string out = EncodeU64(header.size());
  out += header;
  for (size_t i : order) out += tensors[i].data;
  return out;
}

absl::Status WriteSafetensors(const std::string& path, const std::vector<StTensor>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  std::string header;
  std::vector<size_t> order;
  if (absl::Status s = PrepareHeader(tensors, metadata, path, &header, &order); !s.ok()) return s;
  AtomicFile file;
  if (absl::Status s = file.Open(path); !s.ok()) return s;
  if (absl::Status s = file.Write(EncodeU64(header.size())); !s.ok()) return s;
  if (absl::Status s = file.Write(header); !s.ok()) return s;
  for (size_t i : order) {
    if (absl::Status s = file.Write(tensors[i].data); !s.ok()) return s;
  }
  return file.Commit();
}

absl::StatusOr<SafetensorsFile> ReadSafetensors(const std::string& path) {
  auto bad = [&](const std::string& what) { return absl::DataLossError(absl::StrCat(path, ": ", what)); };
  auto errno_error = [&](const char* what, int err) {
    std::string msg = absl::StrCat(path, ": ", what, ": ", std::strerror(err));
    return err == ENOENT ? absl::NotFoundError(msg) : absl::InternalError(msg);
  };

  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (f == nullptr) return errno_error("cannot open", errno);
  struct stat st;
  if (fstat(fileno(f.get()), &st) != 0) return errno_error("cannot stat", errno);
  if (S_ISDIR(st.st_mode)) return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory"));
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);

  // Reads exactly `n` bytes into `dst` or explains why not.
  auto read_exact = [&](char* dst, uint64_t n) -> absl::Status {
    if (n == 0) return absl::OkStatus();
    if (std::fread(dst, 1, n, f.get()) == n) return absl::OkStatus();
    if (std::ferror(f.get())) return errno_error("read failed", errno);
    return bad("truncated (the file got shorter while being read)");
  };

  if (file_size < 8) return bad(absl::StrCat("truncated (", file_size, " bytes, shorter than the 8-byte header size)"));
  unsigned char size_bytes[8];
  if (absl::Status s = read_exact(reinterpret_cast<char*>(size_bytes), 8); !s.ok()) return s;
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | size_bytes[i];
  if (header_size > kMaxHeaderBytes) {
    return bad(absl::StrCat("corrupted header: its size field says ", header_size, " bytes (the limit is ",
                            kMaxHeaderBytes, "; not a safetensors file?)"));
  }
  if (header_size > file_size - 8) {
    return bad(absl::StrCat("truncated: the header size field says ", header_size, " bytes, but only ",
                            file_size - 8, " follow"));
  }
  std::string header(header_size, '\0');
  if (absl::Status s = read_exact(header.data(), header_size); !s.ok()) return s;
  if (header.empty() || header[0] != '{') return bad("corrupted header: it does not start with '{'");

  // Parse, rejecting repeated keys in any object (the format forbids them;
  // a plain parse would silently keep the last).
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  auto check_keys = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (event == E::object_start) {
      open_objects.emplace_back();
    } else if (event == E::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == E::key && !open_objects.empty()) {
      std::string key = parsed.get<std::string>();
      if (!open_objects.back().insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(header, check_keys);
  } catch (const nlohmann::json::parse_error& e) {
    std::string msg = e.what();
    size_t p = msg.find("] ");
    if (p != std::string::npos) msg = msg.substr(p + 2);
    for (char& c : msg) {  // the parser quotes what it read, which may be binary
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F) c = '?';
    }
    return bad(absl::StrCat("corrupted header: invalid JSON (", msg, ")"));
  }
  if (!duplicate.empty()) return bad(absl::StrCat("corrupted header: key '", duplicate, "' appears twice"));
  if (!json.is_object()) return bad("corrupted header: not a JSON object");

  const uint64_t buffer_size = file_size - 8 - header_size;
  SafetensorsFile out;
  std::vector<std::pair<uint64_t, uint64_t>> offsets;  // parallel to out.tensors
  // nlohmann::json objects iterate in key order, so tensors come out sorted by name.
  for (auto it = json.begin(); it != json.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& info = it.value();
    if (name == kMetadataKey) {
      if (info.is_null()) continue;
      if (!info.is_object()) return bad("corrupted header: \"__metadata__\" is not an object");
      for (auto m = info.begin(); m != info.end(); ++m) {
        if (!m->is_string()) {
          return bad(absl::StrCat("corrupted header: __metadata__ value of '", m.key(), "' is not a string"));
        }
        out.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    auto bad_tensor = [&](const std::string& what) { return bad(absl::StrCat("tensor '", name, "': ", what)); };
    if (!info.is_object()) return bad_tensor("corrupted header: not an object");
    auto dtype_it = info.find("dtype");
    auto shape_it = info.find("shape");
    auto offsets_it = info.find("data_offsets");
    if (dtype_it == info.end() || !dtype_it->is_string()) return bad_tensor("corrupted header: no \"dtype\" string");
    if (shape_it == info.end() || !shape_it->is_array()) return bad_tensor("corrupted header: no \"shape\" array");
    if (offsets_it == info.end() || !offsets_it->is_array() || offsets_it->size() != 2) {
      return bad_tensor("corrupted header: no \"data_offsets\" pair");
    }
    StTensor t;
    t.name = name;
    std::string dtype_name = dtype_it->get<std::string>();
    std::optional<StDtype> dtype = StDtypeFromName(dtype_name);
    if (!dtype) {
      return bad_tensor(absl::StrCat("unknown dtype \"", dtype_name, "\" (sdft reads ",
                                     absl::StrJoin(kAllDtypes, ", ",
                                                   [](std::string* o, StDtype d) { o->append(StDtypeName(d)); }),
                                     ")"));
    }
    t.dtype = *dtype;
    for (const nlohmann::json& d : *shape_it) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
        return bad_tensor(absl::StrCat("corrupted header: shape ", shape_it->dump(), " is not a list of sizes"));
      }
      t.shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
    }
    const nlohmann::json& b = (*offsets_it)[0];
    const nlohmann::json& e = (*offsets_it)[1];
    if (!b.is_number_unsigned() || !e.is_number_unsigned() || b.get<uint64_t>() > e.get<uint64_t>()) {
      return bad_tensor(absl::StrCat("corrupted header: data_offsets ", offsets_it->dump(), " is not a [begin, end] pair"));
    }
    uint64_t begin = b.get<uint64_t>(), end = e.get<uint64_t>(), bytes;
    if (!ByteSize(t.shape, StDtypeBytes(t.dtype), &bytes)) {
      return bad_tensor(absl::StrCat("corrupted header: shape ", ShapeString(t.shape), " overflows"));
    }
    if (end - begin != bytes) {
      return bad_tensor(absl::StrCat("corrupted header: data_offsets [", begin, ", ", end, "] span ", end - begin,
                                     " bytes, but shape ", ShapeString(t.shape), " of ", dtype_name, " needs ", bytes));
    }
    out.tensors.push_back(std::move(t));
    offsets.emplace_back(begin, end);
  }

  // The tensors must tile the data buffer: no overlap, no hole, nothing after.
  std::vector<size_t> by_offset(out.tensors.size());
  std::iota(by_offset.begin(), by_offset.end(), size_t{0});
  std::sort(by_offset.begin(), by_offset.end(), [&](size_t a, size_t b) { return offsets[a] < offsets[b]; });
  uint64_t covered = 0;
  const StTensor* prev = nullptr;
  for (size_t i : by_offset) {
    const auto [begin, end] = offsets[i];
    if (begin < covered) {
      return bad(absl::StrCat("corrupted header: tensor '", out.tensors[i].name, "' overlaps tensor '", prev->name,
                              "' in the data buffer"));
    }
    if (begin > covered) {
      return bad(absl::StrCat("corrupted header: bytes ", covered, "..", begin, " of the data buffer (before tensor '",
                              out.tensors[i].name, "') belong to no tensor"));
    }
    covered = end;
    prev = &out.tensors[i];
  }
  if (covered > buffer_size) {
    return bad(absl::StrCat("truncated: the header describes ", covered, " bytes of tensor data, but only ",
                            buffer_size, " follow it"));
  }
  if (covered < buffer_size) {
    return bad(absl::StrCat("corrupted: ", buffer_size - covered, " bytes after the last tensor belong to no tensor"));
  }

  for (size_t i : by_offset) {
    StTensor& t = out.tensors[i];
    t.data.resize(offsets[i].second - offsets[i].first);
    if (absl::Status s = read_exact(t.data.data(), t.data.size()); !s.ok()) return s;
  }
  return out;
}

}  // namespace sdft
