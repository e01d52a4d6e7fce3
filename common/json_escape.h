// JSON string escaping for JSONL writers. Input must be valid UTF-8; it is
// passed through unchanged except for the characters JSON requires escaped
// (quote, backslash, control characters), so the output round-trips exactly.
#ifndef SDFT_COMMON_JSON_ESCAPE_H_
#define SDFT_COMMON_JSON_ESCAPE_H_

#include <string>
#include <string_view>

namespace sdft {

// Appends `s` to `out` as a quoted JSON string.
void AppendJsonString(std::string* out, std::string_view s);

}  // namespace sdft

#endif  // SDFT_COMMON_JSON_ESCAPE_H_
