// UTF-8 validation. Text entering sdft (templates, specs, corpora) must be
// valid UTF-8; the first bad byte is reported so the user can find it.
#ifndef SDFT_COMMON_UTF8_H_
#define SDFT_COMMON_UTF8_H_

#include <cstddef>
#include <string_view>

namespace sdft {

// Returns the byte offset of the first invalid UTF-8 sequence in `s`, or
// std::string_view::npos when all of `s` is valid (overlongs, surrogates and
// code points above U+10FFFF are invalid).
size_t FindInvalidUtf8(std::string_view s);

inline bool IsValidUtf8(std::string_view s) {
  return FindInvalidUtf8(s) == std::string_view::npos;
}

// Line and column (both 1-based, column in bytes) of byte `offset` in `s`.
void LineColumnAt(std::string_view s, size_t offset, int* line, int* col);

}  // namespace sdft

#endif  // SDFT_COMMON_UTF8_H_
