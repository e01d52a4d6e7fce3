#include "common/json_escape.h"

#include <cstring>

namespace sdft {
namespace {

// 1 where a byte needs escaping: control characters, '"' and '\\'.
struct EscapeTable {
  bool needs[256];
  EscapeTable() {
    for (int c = 0; c < 256; ++c) needs[c] = c < 0x20 || c == '"' || c == '\\';
  }
};
const EscapeTable kEscape;

}  // namespace

void AppendJsonString(std::string* out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out->reserve(out->size() + s.size() + 2);
  out->push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0, run = 0;
  const size_t n = s.size();
  while (i < n) {
    if (!kEscape.needs[p[i]]) { ++i; continue; }
    out->append(s.data() + run, i - run);
    const unsigned char c = p[i];
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default: {
        char buf[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out->append(buf, 6);
      }
    }
    run = ++i;
  }
  out->append(s.data() + run, n - run);
  out->push_back('"');
}

}  // namespace sdft
