#include "common/jsonl.h"

#include "absl/strings/str_cat.h"
#include "common/atomic_file.h"

namespace sdft {

absl::Status LineError(const std::string& path, int line, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": ", what));
}

absl::Status ForEachJsonLine(const std::string& path,
                             const std::function<absl::Status(int, nlohmann::ordered_json&)>& fn) {
  std::string text;
  if (absl::Status s = ReadFile(path, &text); !s.ok()) return s;
  int line_no = 0;
  for (size_t p = 0; p < text.size();) {
    size_t q = text.find('\n', p);
    if (q == std::string::npos) q = text.size();
    const std::string_view line(text.data() + p, q - p);
    p = q + 1;
    ++line_no;
    if (line.empty()) continue;
    auto j = nlohmann::ordered_json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return LineError(path, line_no, "not a JSON object");
    if (absl::Status s = fn(line_no, j); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace sdft
