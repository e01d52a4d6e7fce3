#include "generator/modifiers.h"

#include <cctype>
#include <climits>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "generator/template_parser.h"

namespace sdft {
namespace {

const char* const kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                               "July",    "August",   "September", "October", "November", "December"};
const char* const kWeekdays[] = {"Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"};

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsAlpha(char c) { return std::isalpha(static_cast<unsigned char>(c)); }

// Index of the first letter, skipping leading quotes, brackets and markup.
size_t FirstLetter(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (IsAlpha(c) || std::isdigit(static_cast<unsigned char>(c))) return i;
    if (c == '"' || c == '\'' || c == '(' || c == '*' || c == '_' || c == ' ' || c == '[') continue;
    return std::string::npos;
  }
  return std::string::npos;
}

void Capitalize(std::string* s) {
  size_t i = FirstLetter(*s);
  if (i != std::string::npos && IsLower((*s)[i])) (*s)[i] = static_cast<char>((*s)[i] - 32);
}

void Title(std::string* s) {
  static const char* const kSmall[] = {"a", "an", "the", "and", "but", "or", "nor", "of", "in", "on",
                                       "at", "to", "by", "for", "with", "as", "vs", "via"};
  size_t i = 0;
  bool first = true;
  while (i < s->size()) {
    while (i < s->size() && !IsAlpha((*s)[i])) ++i;
    size_t j = i;
    while (j < s->size() && (IsAlpha((*s)[j]) || (*s)[j] == '\'')) ++j;
    if (j > i) {
      std::string w = absl::AsciiStrToLower(s->substr(i, j - i));
      bool small = false;
      for (const char* k : kSmall) small |= (w == k);
      if ((first || !small) && IsLower((*s)[i])) (*s)[i] = static_cast<char>((*s)[i] - 32);
      first = false;
    }
    i = j;
  }
}

bool StartsWithI(const std::string& s, size_t at, const char* prefix) {
  size_t n = std::strlen(prefix);
  if (s.size() < at + n) return false;
  for (size_t k = 0; k < n; ++k) {
    if (std::tolower(static_cast<unsigned char>(s[at + k])) != prefix[k]) return false;
  }
  return true;
}

// "an" for vowel sounds: vowels minus the "you"/"wun" sounds, plus silent h
// and initialisms whose first letter is said with a vowel ("an FAQ").
bool WantsAn(const std::string& s) {
  size_t i = FirstLetter(s);
  if (i == std::string::npos) return false;
  size_t j = i;
  while (j < s.size() && IsAlpha(s[j])) ++j;
  bool initialism = j - i >= 2 && j - i <= 5;
  for (size_t k = i; k < j && initialism; ++k) initialism = std::isupper(static_cast<unsigned char>(s[k]));
  char c = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i])));
  if (initialism) return std::strchr("aefhilmnorsx", c) != nullptr;
  if (std::isdigit(static_cast<unsigned char>(s[i]))) {
    // "an 8", "an 80", "an 11", "an 18", "an 11,000", "an 18,500"; "a 1,100".
    if (s[i] == '8') return true;
    int digits = 0;
    for (size_t k = i; k < s.size() && (std::isdigit(static_cast<unsigned char>(s[k])) || s[k] == ','); ++k) {
      digits += s[k] != ',';
    }
    return (StartsWithI(s, i, "11") || StartsWithI(s, i, "18")) && digits % 3 == 2;
  }
  for (const char* p : {"uni", "use", "usu", "uti", "ura", "eu", "one", "once", "ubi", "uk"}) {
    if (StartsWithI(s, i, p)) return false;
  }
  for (const char* p : {"hour", "honest", "honor", "honour", "heir"}) {
    if (StartsWithI(s, i, p)) return true;
  }
  return std::strchr("aeiou", c) != nullptr;
}

void Plural(std::string* s) {
  // Pluralize the last word.
  size_t end = s->size();
  while (end > 0 && !IsAlpha((*s)[end - 1])) --end;
  if (end == 0) return;
  size_t start = end;
  while (start > 0 && IsAlpha((*s)[start - 1])) --start;
  std::string word = s->substr(start, end - start);
  std::string lower = absl::AsciiStrToLower(word);
  static const char* const kIrregular[][2] = {
      {"person", "people"}, {"child", "children"}, {"man", "men"}, {"woman", "women"},
      {"mouse", "mice"},    {"foot", "feet"},      {"tooth", "teeth"}, {"analysis", "analyses"},
      {"criterion", "criteria"}, {"datum", "data"}, {"index", "indices"}, {"life", "lives"},
      {"policy", "policies"}};
  static const char* const kSame[] = {"sheep", "fish", "series", "species", "data", "staff", "news"};
  for (const char* w : kSame) {
    if (lower == w) return;
  }
  std::string plural;
  for (const auto& p : kIrregular) {
    if (lower == p[0]) plural = p[1];
  }
  if (plural.empty()) {
    auto ends = [&](const char* suf) {
      size_t n = std::strlen(suf);
      return lower.size() >= n && lower.compare(lower.size() - n, n, suf) == 0;
    };
    char before = lower.size() >= 2 ? lower[lower.size() - 2] : 'a';
    if (ends("s") || ends("x") || ends("z") || ends("ch") || ends("sh")) {
      plural = word + "es";
    } else if (ends("y") && !std::strchr("aeiou", before)) {
      plural = word.substr(0, word.size() - 1) + "ies";
    } else if (ends("fe")) {
      plural = word.substr(0, word.size() - 2) + "ves";
    } else {
      plural = word + "s";
    }
  } else if (std::isupper(static_cast<unsigned char>(word[0]))) {
    plural[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(plural[0])));
  }
  s->replace(start, end - start, plural);
}

void Commas(std::string* s) {
  // Group the first run of 4+ digits (not already grouped).
  size_t i = 0;
  while (i < s->size()) {
    if (!std::isdigit(static_cast<unsigned char>((*s)[i]))) { ++i; continue; }
    size_t j = i;
    while (j < s->size() && std::isdigit(static_cast<unsigned char>((*s)[j]))) ++j;
    if (j - i >= 4) {
      std::string digits = s->substr(i, j - i), grouped;
      int lead = static_cast<int>(digits.size() % 3);
      for (size_t k = 0; k < digits.size(); ++k) {
        if (k > 0 && (static_cast<int>(k) - lead) % 3 == 0) grouped.push_back(',');
        grouped.push_back(digits[k]);
      }
      s->replace(i, j - i, grouped);
      return;
    }
    i = j;
  }
}

void Ordinal(std::string* s) {
  size_t end = s->size();
  while (end > 0 && !std::isdigit(static_cast<unsigned char>((*s)[end - 1]))) --end;
  if (end == 0) return;
  int last = (*s)[end - 1] - '0';
  int tens = end >= 2 && std::isdigit(static_cast<unsigned char>((*s)[end - 2])) ? (*s)[end - 2] - '0' : 0;
  const char* suf = "th";
  if (tens != 1) {
    if (last == 1) suf = "st";
    else if (last == 2) suf = "nd";
    else if (last == 3) suf = "rd";
  }
  s->insert(end, suf);
}

}  // namespace

std::string FormatDate(int64_t days, Modifier format) {
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  const char* month = kMonths[m - 1];
  switch (format) {
    case Modifier::kDateShort: return absl::StrCat(std::string(month, 3), " ", d, ", ", y);
    case Modifier::kDateIso: {
      char buf[16];
      std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02u", static_cast<long long>(y), m, d);
      return buf;
    }
    case Modifier::kDateNumeric: return absl::StrCat(m, "/", d, "/", y);
    case Modifier::kDateDmy: return absl::StrCat(d, " ", month, " ", y);
    case Modifier::kDateMonthYear: return absl::StrCat(month, " ", y);
    case Modifier::kDateYear: return absl::StrCat(y);
    case Modifier::kDateMonth: return month;
    case Modifier::kDateDay: return absl::StrCat(d);
    case Modifier::kDateWeekday: return kWeekdays[((days % 7) + 7) % 7];
    default: return absl::StrCat(month, " ", d, ", ", y);
  }
}

void ApplyModifier(Modifier m, std::string* s, int64_t date_days) {
  switch (m) {
    case Modifier::kCapitalize: Capitalize(s); break;
    case Modifier::kTitle: Title(s); break;
    case Modifier::kUpper: absl::AsciiStrToUpper(s); break;
    case Modifier::kLower: absl::AsciiStrToLower(s); break;
    case Modifier::kA: s->insert(0, WantsAn(*s) ? "an " : "a "); break;
    case Modifier::kPlural: Plural(s); break;
    case Modifier::kPossessive:
      if (!s->empty() && (s->back() == 's' || s->back() == 'S')) s->append("'");
      else s->append("'s");
      break;
    case Modifier::kCommas: Commas(s); break;
    case Modifier::kOrdinal: Ordinal(s); break;
    case Modifier::kPad2:
      if (s->size() == 1 && std::isdigit(static_cast<unsigned char>((*s)[0]))) s->insert(0, "0");
      break;
    default:
      if (date_days != INT64_MIN) *s = FormatDate(date_days, m);
      break;
  }
}

}  // namespace sdft
