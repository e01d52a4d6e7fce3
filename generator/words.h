// What sdft counts as a word, in one place: a maximal run of letters, digits
// and apostrophes (any non-ASCII byte counts as a letter), compared
// lowercased. Stats (distinct-n, lengths) and near-duplicate shingles agree.
#ifndef SDFT_GENERATOR_WORDS_H_
#define SDFT_GENERATOR_WORDS_H_

#include <cctype>
#include <string>
#include <string_view>

namespace sdft {

inline bool IsWordByte(unsigned char c) { return std::isalnum(c) || c == '\'' || c >= 0x80; }

// Calls fn(word) for each word of `text`, lowercased into `scratch`.
template <typename Fn>
void ForEachWord(std::string_view text, std::string* scratch, Fn fn) {
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    while (i < n && !IsWordByte(static_cast<unsigned char>(text[i]))) ++i;
    scratch->clear();
    while (i < n && IsWordByte(static_cast<unsigned char>(text[i]))) {
      scratch->push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(text[i]))));
      ++i;
    }
    if (!scratch->empty()) fn(std::string_view(*scratch));
  }
}

}  // namespace sdft

#endif  // SDFT_GENERATOR_WORDS_H_
