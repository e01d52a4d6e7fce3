#include "generator/template_parser.h"

#include <cctype>
#include <cstdlib>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/utf8.h"

namespace sdft {
namespace {

struct ModifierName_ {
  const char* name;
  Modifier mod;
};
constexpr ModifierName_ kModifiers[] = {
    {"capitalize", Modifier::kCapitalize}, {"title", Modifier::kTitle},
    {"upper", Modifier::kUpper},           {"lower", Modifier::kLower},
    {"a", Modifier::kA},                   {"plural", Modifier::kPlural},
    {"possessive", Modifier::kPossessive}, {"commas", Modifier::kCommas},
    {"ordinal", Modifier::kOrdinal},       {"long", Modifier::kDateLong},
    {"short", Modifier::kDateShort},       {"iso", Modifier::kDateIso},
    {"numeric", Modifier::kDateNumeric},   {"dmy", Modifier::kDateDmy},
    {"month_year", Modifier::kDateMonthYear}, {"year", Modifier::kDateYear},
    {"month", Modifier::kDateMonth},       {"day", Modifier::kDateDay},
    {"weekday", Modifier::kDateWeekday},   {"pad2", Modifier::kPad2},
};

// A weight as written after '^': a positive number up to 1e9, nothing else.
bool ParseWeightNumber(std::string_view num, double* out) {
  if (num.empty()) return false;
  const std::string str(num);
  char* end = nullptr;
  const double v = std::strtod(str.c_str(), &end);
  if (end != str.c_str() + str.size() || !(v > 0) || v > 1e9) return false;
  *out = v;
  return true;
}

bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Parses template text; every byte of `body_` has a source position in `pos_`.
class BodyParser {
 public:
  BodyParser(std::string body, std::vector<std::pair<int, int>> pos, const std::string& display,
             int file_index)
      : body_(std::move(body)), pos_(std::move(pos)), display_(display), file_(file_index) {}

  absl::StatusOr<Seq> ParseAll() {
    Seq seq;
    if (absl::Status s = ParseSeq(Ctx::kTop, &seq, 0); !s.ok()) return s;
    return seq;
  }

  // Parses the rest of the body as choice options ('|' separated), as used
  // for a weight-prefixed alternative; here only used for a full body.
 private:
  enum class Ctx { kTop, kBrace, kOptional };

  SourceLoc Loc(size_t at) const {
    SourceLoc l;
    l.file = file_;
    const auto& p = at < pos_.size() ? pos_[at] : pos_.back();
    l.line = p.first;
    l.col = p.second;
    return l;
  }
  absl::Status Error(size_t at, const std::string& msg) const {
    SourceLoc l = Loc(at);
    return absl::InvalidArgumentError(absl::StrFormat("%s:%d:%d: %s", display_, l.line, l.col, msg));
  }
  bool AtEnd() const { return i_ >= body_.size(); }
  char Peek(size_t k = 0) const { return i_ + k < body_.size() ? body_[i_ + k] : '\0'; }

  void AppendText(Seq* seq, std::string_view text, size_t at) {
    if (seq->empty() || seq->back().kind != Node::Kind::kText) {
      Node n;
      n.kind = Node::Kind::kText;
      n.loc = Loc(at);
      seq->push_back(std::move(n));
    }
    seq->back().text.append(text);
  }

  absl::Status ParseSeq(Ctx ctx, Seq* seq, size_t open) {
    while (!AtEnd()) {
      const char c = body_[i_];
      if (c == '\\') {
        size_t at = i_;
        if (i_ + 1 >= body_.size()) return Error(at, "'\\' at the end of the text escapes nothing");
        char e = body_[i_ + 1];
        std::string lit;
        switch (e) {
          case 'n': lit = "\n"; break;
          case 't': lit = "\t"; break;
          case 's': lit = " "; break;
          case '{': case '}': case '[': case ']': case '|': case '\\': case '#':
          case '$': case '^': case '"': case '@': case '*': case '%': case '.':
            lit = std::string(1, e);
            break;
          default:
            return Error(at, absl::StrCat("unknown escape '\\", std::string(1, e),
                                          "' (escapes: \\n \\t \\s \\{ \\} \\[ \\] \\| \\\\ \\# \\$ \\^)"));
        }
        AppendText(seq, lit, at);
        i_ += 2;
      } else if (c == '{') {
        Node n;
        if (absl::Status s = ParseBrace(&n); !s.ok()) return s;
        seq->push_back(std::move(n));
      } else if (c == '[') {
        Node n;
        if (absl::Status s = ParseOptional(&n); !s.ok()) return s;
        seq->push_back(std::move(n));
      } else if (c == '}') {
        if (ctx == Ctx::kBrace) return absl::OkStatus();
        return Error(i_, "unmatched '}' (write \\} for a literal brace)");
      } else if (c == ']') {
        if (ctx == Ctx::kOptional) return absl::OkStatus();
        return Error(i_, "unmatched ']' (write \\] for a literal bracket)");
      } else if (c == '|' && ctx == Ctx::kBrace) {
        return absl::OkStatus();
      } else {
        // Copy a run of plain bytes at once.
        size_t j = i_ + 1;
        while (j < body_.size()) {
          char d = body_[j];
          if (d == '\\' || d == '{' || d == '}' || d == '[' || d == ']' || d == '|') break;
          ++j;
        }
        AppendText(seq, std::string_view(body_).substr(i_, j - i_), i_);
        i_ = j;
      }
    }
    if (ctx == Ctx::kBrace) return Error(open, "unclosed '{'");
    if (ctx == Ctx::kOptional) return Error(open, "unclosed '['");
    return absl::OkStatus();
  }

  std::string ScanIdent() {
    size_t j = i_;
    if (j < body_.size() && IsIdentStart(body_[j])) {
      while (j < body_.size() && IsIdentChar(body_[j])) ++j;
    }
    std::string id = body_.substr(i_, j - i_);
    i_ = j;
    return id;
  }

  // Parses ".mod.mod" up to (not including) '}'.
  absl::Status ParseMods(std::vector<Modifier>* mods) {
    while (Peek() == '.') {
      size_t at = i_ + 1;
      ++i_;
      std::string name = ScanIdent();
      Modifier m;
      if (!ParseModifier(name, &m)) {
        if (name.empty()) return Error(at, "expected a modifier name after '.'");
        return Error(at, absl::StrCat("unknown modifier '", name, "' (known: ", KnownModifierList(), ")"));
      }
      mods->push_back(m);
    }
    return absl::OkStatus();
  }

  absl::Status ExpectClose(size_t open) {
    if (Peek() != '}') {
      if (AtEnd()) return Error(open, "unclosed '{'");
      return Error(i_, absl::StrCat("unexpected '", std::string(1, Peek()), "' in '{...}'; expected '}'"));
    }
    ++i_;
    return absl::OkStatus();
  }

  bool ParseInt(int64_t* v) {
    size_t j = i_;
    int64_t x = 0;
    bool any = false;
    while (j < body_.size() && (std::isdigit(static_cast<unsigned char>(body_[j])) || (any && body_[j] == ','))) {
      if (body_[j] != ',') {
        x = x * 10 + (body_[j] - '0');
        if (x > (int64_t{1} << 50)) return false;
      }
      any = true;
      ++j;
    }
    if (!any) return false;
    *v = x;
    i_ = j;
    return true;
  }

  bool ParseDate(int64_t* days) {
    // YYYY-MM-DD
    if (i_ + 10 > body_.size()) return false;
    std::string s = body_.substr(i_, 10);
    for (int k = 0; k < 10; ++k) {
      if (k == 4 || k == 7) { if (s[k] != '-') return false; }
      else if (!std::isdigit(static_cast<unsigned char>(s[k]))) return false;
    }
    int y = std::atoi(s.substr(0, 4).c_str()), m = std::atoi(s.substr(5, 2).c_str()),
        d = std::atoi(s.substr(8, 2).c_str());
    if (m < 1 || m > 12 || d < 1) return false;
    static const int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > kDays[m - 1] || (m == 2 && d == 29 && !leap)) return false;
    *days = DaysFromCivil(y, m, d);
    i_ += 10;
    return true;
  }

  // Options separated by '|' up to the closing '}', each with an optional
  // "^weight " prefix.
  absl::Status ParseOptions(std::vector<Alternative>* alts, size_t open) {
    for (;;) {
      Alternative alt;
      alt.loc = Loc(i_);
      if (Peek() == '^') {
        if (absl::Status s = ParseWeight(&alt.weight); !s.ok()) return s;
      }
      if (absl::Status s = ParseSeq(Ctx::kBrace, &alt.body, open); !s.ok()) return s;
      alts->push_back(std::move(alt));
      if (Peek() == '|') { ++i_; continue; }
      ++i_;  // '}'
      return absl::OkStatus();
    }
  }

 public:
  // "^2.5 " at i_.
  absl::Status ParseWeight(double* w) {
    size_t at = i_;
    ++i_;
    size_t j = i_;
    while (j < body_.size() && (std::isdigit(static_cast<unsigned char>(body_[j])) || body_[j] == '.')) ++j;
    if (!ParseWeightNumber(std::string_view(body_).substr(i_, j - i_), w) || j >= body_.size() || body_[j] != ' ') {
      return Error(at, "bad weight: write '^N ' with a positive number N and a space, e.g. '^3 text'");
    }
    i_ = j + 1;
    return absl::OkStatus();
  }
  size_t pos() const { return i_; }

 private:
  absl::Status ParseBrace(Node* n) {
    const size_t open = i_;
    n->loc = Loc(open);
    ++i_;
    const char c = Peek();
    if (c == '}') return Error(open, "empty '{}'");
    if (c == '$') {
      ++i_;
      n->text = ScanIdent();
      if (n->text.empty()) return Error(open + 1, "expected a variable name after '$' (for a literal '$' write \\$)");
      if (Peek() == '=') {
        ++i_;
        n->kind = Node::Kind::kBind;
        // {$x=rule}: a bare name binds an expansion of that rule.
        size_t j = i_;
        if (j < body_.size() && IsIdentStart(body_[j])) {
          while (j < body_.size() && IsIdentChar(body_[j])) ++j;
          if (j < body_.size() && body_[j] == '}') {
            Alternative alt;
            alt.loc = Loc(i_);
            Node ref;
            ref.kind = Node::Kind::kRule;
            ref.loc = Loc(i_);
            ref.text = body_.substr(i_, j - i_);
            ref.literal_fallback = true;
            alt.body.push_back(std::move(ref));
            n->alts.push_back(std::move(alt));
            i_ = j + 1;
            return absl::OkStatus();
          }
        }
        return ParseOptions(&n->alts, open);
      }
      n->kind = Node::Kind::kVar;
      if (absl::Status s = ParseMods(&n->mods); !s.ok()) return s;
      return ExpectClose(open);
    }
    if (c == '#') {
      ++i_;
      n->kind = Node::Kind::kInt;
      if (!ParseInt(&n->lo)) return Error(i_, "expected a number range like {#1-100}");
      n->hi = n->lo;
      if (Peek() == '-') {
        ++i_;
        if (!ParseInt(&n->hi)) return Error(i_, "expected a number after '-' in {#lo-hi}");
      }
      if (n->hi < n->lo) return Error(open, "empty number range: the upper bound is below the lower");
      if (absl::Status s = ParseMods(&n->mods); !s.ok()) return s;
      for (Modifier m : n->mods) {
        if (IsDateModifier(m)) return Error(open, absl::StrCat("modifier '", ModifierName(m), "' applies to dates only"));
      }
      return ExpectClose(open);
    }
    if (c == '@') {
      ++i_;
      n->kind = Node::Kind::kDate;
      if (!ParseDate(&n->lo)) return Error(i_, "expected a date range like {@2024-01-01..2024-12-31}");
      n->hi = n->lo;
      if (Peek() == '.' && Peek(1) == '.') {
        i_ += 2;
        if (!ParseDate(&n->hi)) return Error(i_, "expected a date YYYY-MM-DD after '..'");
      }
      if (n->hi < n->lo) return Error(open, "empty date range: the end is before the start");
      if (absl::Status s = ParseMods(&n->mods); !s.ok()) return s;
      return ExpectClose(open);
    }
    if (c == '*') {
      ++i_;
      n->kind = Node::Kind::kRepeat;
      if (!ParseInt(&n->lo)) return Error(i_, "expected a count like {*2-5 rule} (for a literal '*' write \\*)");
      n->hi = n->lo;
      if (Peek() == '-') {
        ++i_;
        if (!ParseInt(&n->hi)) return Error(i_, "expected a number after '-' in {*lo-hi rule}");
      }
      if (n->hi < n->lo) return Error(open, "empty count range: the upper bound is below the lower");
      if (n->hi > 10000) return Error(open, "repetition count above 10000");
      if (Peek() != ' ') return Error(i_, "expected a space and a rule name, as in {*2-5 rule}");
      ++i_;
      n->text = ScanIdent();
      if (n->text.empty()) return Error(i_, "expected a rule name to repeat");
      if (Peek() == ' ' && Peek(1) == '"') {
        i_ += 2;
        while (!AtEnd() && Peek() != '"') {
          if (Peek() == '\\' && i_ + 1 < body_.size()) {
            char e = body_[i_ + 1];
            n->sep.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e);
            i_ += 2;
          } else {
            n->sep.push_back(body_[i_++]);
          }
        }
        if (AtEnd()) return Error(open, "unterminated separator string in {*...}");
        ++i_;
      }
      return ExpectClose(open);
    }
    // A rule reference {name} / {name.mods}, or else a choice {a|b}.
    if (IsIdentStart(c)) {
      size_t save = i_;
      std::string name = ScanIdent();
      size_t j = i_;
      bool mods_shape = true;
      while (j < body_.size() && body_[j] == '.') {
        ++j;
        if (j >= body_.size() || !IsIdentStart(body_[j])) { mods_shape = false; break; }
        while (j < body_.size() && IsIdentChar(body_[j])) ++j;
      }
      if (mods_shape && j < body_.size() && body_[j] == '}') {
        n->kind = name == "fact" ? Node::Kind::kFact : Node::Kind::kRule;
        n->text = name;
        if (absl::Status s = ParseMods(&n->mods); !s.ok()) return s;
        return ExpectClose(open);
      }
      i_ = save;
    }
    n->kind = Node::Kind::kChoice;
    if (absl::Status s = ParseOptions(&n->alts, open); !s.ok()) return s;
    if (n->alts.size() < 2) {
      return Error(open, "'{...}' must hold a rule name {name}, a variable {$name}, a range "
                         "{#1-9} / {@2024-01-01..2024-12-31}, a repetition {*2-4 name} or a "
                         "choice {a|b} (write \\{ for a literal brace)");
    }
    return absl::OkStatus();
  }

  absl::Status ParseOptional(Node* n) {
    const size_t open = i_;
    n->kind = Node::Kind::kOptional;
    n->loc = Loc(open);
    ++i_;
    // "[30% text]": explicit probability.
    size_t j = i_;
    while (j < body_.size() && std::isdigit(static_cast<unsigned char>(body_[j]))) ++j;
    if (j > i_ && j + 1 < body_.size() && body_[j] == '%' && body_[j + 1] == ' ') {
      int pct = std::atoi(body_.substr(i_, j - i_).c_str());
      if (pct > 100) return Error(i_, "probability above 100%");
      n->prob = pct / 100.0;
      i_ = j + 2;
    }
    Alternative alt;
    alt.loc = Loc(i_);
    if (absl::Status s = ParseSeq(Ctx::kOptional, &alt.body, open); !s.ok()) return s;
    ++i_;  // ']'
    n->alts.push_back(std::move(alt));
    return absl::OkStatus();
  }

  std::string body_;
  std::vector<std::pair<int, int>> pos_;
  const std::string& display_;
  int file_;
  size_t i_ = 0;
};

absl::Status FileError(const std::string& display, int line, int col, const std::string& msg) {
  return absl::InvalidArgumentError(absl::StrFormat("%s:%d:%d: %s", display, line, col, msg));
}

// Parses an alternative's text: optional "^w " weight then the body.
absl::StatusOr<Alternative> ParseAlternative(std::string body, std::vector<std::pair<int, int>> pos,
                                             const std::string& display, int file_index) {
  Alternative alt;
  alt.loc.file = file_index;
  alt.loc.line = pos.empty() ? 0 : pos[0].first;
  alt.loc.col = pos.empty() ? 0 : pos[0].second;
  BodyParser p(std::move(body), std::move(pos), display, file_index);
  absl::StatusOr<Seq> seq = p.ParseAll();
  if (!seq.ok()) return seq.status();
  alt.body = std::move(*seq);
  return alt;
}

}  // namespace

bool IsDateModifier(Modifier m) { return m >= Modifier::kDateLong && m <= Modifier::kDateWeekday; }

bool ParseModifier(std::string_view name, Modifier* out) {
  for (const auto& m : kModifiers) {
    if (name == m.name) { *out = m.mod; return true; }
  }
  return false;
}

std::string ModifierName(Modifier m) {
  for (const auto& x : kModifiers) {
    if (x.mod == m) return x.name;
  }
  return "?";
}

std::string KnownModifierList() {
  std::vector<std::string> names;
  for (const auto& m : kModifiers) names.push_back(m.name);
  return absl::StrJoin(names, ", ");
}

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's days_from_civil.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}

absl::StatusOr<Seq> ParseTemplateText(std::string_view text, const std::string& display,
                                      int file_index, int line, int col) {
  size_t bad = FindInvalidUtf8(text);
  if (bad != std::string_view::npos) {
    int l, c;
    LineColumnAt(text, bad, &l, &c);
    return FileError(display, line + l - 1, l == 1 ? col + c - 1 : c,
                     absl::StrFormat("invalid UTF-8 (byte 0x%02X)", static_cast<unsigned char>(text[bad])));
  }
  std::vector<std::pair<int, int>> pos;
  pos.reserve(text.size() + 1);
  int l = line, c = col;
  for (char ch : text) {
    pos.emplace_back(l, c);
    if (ch == '\n') { ++l; c = 1; } else { ++c; }
  }
  pos.emplace_back(l, c);
  BodyParser p(std::string(text), std::move(pos), display, file_index);
  return p.ParseAll();
}

absl::StatusOr<ParsedFile> ParseTemplateFile(std::string_view text, const std::string& display,
                                             int file_index) {
  size_t bad = FindInvalidUtf8(text);
  if (bad != std::string_view::npos) {
    int l, c;
    LineColumnAt(text, bad, &l, &c);
    return FileError(display, l, c,
                     absl::StrFormat("invalid UTF-8 (byte 0x%02X); template files must be UTF-8",
                                     static_cast<unsigned char>(text[bad])));
  }
  // Split into lines, dropping a trailing '\r'.
  std::vector<std::string_view> lines;
  for (size_t start = 0; start <= text.size();) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view ln = text.substr(start, nl - start);
    if (!ln.empty() && ln.back() == '\r') ln.remove_suffix(1);
    lines.push_back(ln);
    if (nl == text.size()) break;
    start = nl + 1;
  }

  ParsedFile out;
  std::map<std::string, int> first_line;  // "kind:name" -> line
  RuleDecl* current = nullptr;

  auto finish_rule = [&]() -> absl::Status {
    if (current != nullptr && current->alts.empty()) {
      return FileError(display, current->loc.line, current->loc.col,
                       absl::StrCat("rule '", current->name, "' has no alternatives (indent them under it)"));
    }
    return absl::OkStatus();
  };
  auto leading_ws = [](std::string_view s) {
    size_t k = 0;
    while (k < s.size() && (s[k] == ' ' || s[k] == '\t')) ++k;
    return k;
  };
  // Parses alternative text starting at (line_no, col) of a single line.
  auto add_inline_alt = [&](std::string_view s, int line_no, int col) -> absl::Status {
    // Trailing blanks are invisible in an editor, so they never count (use \s).
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    double weight = 1.0;
    if (!s.empty() && s[0] == '^') {
      size_t sp = s.find(' ');
      if (sp == std::string_view::npos || !ParseWeightNumber(s.substr(1, sp - 1), &weight)) {
        return FileError(display, line_no, col, "bad weight: write '^N ' with a positive number N and a space, e.g. '^3 text'");
      }
      s.remove_prefix(sp + 1);
      col += static_cast<int>(sp + 1);
    }
    std::vector<std::pair<int, int>> pos;
    for (size_t k = 0; k <= s.size(); ++k) pos.emplace_back(line_no, col + static_cast<int>(k));
    absl::StatusOr<Alternative> alt = ParseAlternative(std::string(s), std::move(pos), display, file_index);
    if (!alt.ok()) return alt.status();
    alt->weight = weight;
    alt->loc = SourceLoc{file_index, line_no, col};
    current->alts.push_back(std::move(*alt));
    return absl::OkStatus();
  };

  for (size_t li = 0; li < lines.size(); ++li) {
    const std::string_view ln = lines[li];
    const int line_no = static_cast<int>(li) + 1;
    const size_t ws = leading_ws(ln);
    std::string_view rest = ln.substr(ws);
    if (rest.empty()) continue;
    if (ws == 0) {
      if (rest[0] == '#') continue;
      if (absl::Status s = finish_rule(); !s.ok()) return s;
      current = nullptr;
      if (rest[0] == '@') {
        const std::string_view kInclude = "@include ";
        if (rest.substr(0, kInclude.size()) != kInclude) {
          return FileError(display, line_no, 1, "unknown directive (the only one is @include \"path\")");
        }
        std::string_view arg = rest.substr(kInclude.size());
        while (!arg.empty() && arg.back() == ' ') arg.remove_suffix(1);
        while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
        if (arg.size() < 2 || arg.front() != '"' || arg.back() != '"') {
          return FileError(display, line_no, static_cast<int>(kInclude.size()) + 1,
                           "expected a quoted path: @include \"banks/names.sdt\"");
        }
        out.includes.push_back({std::string(arg.substr(1, arg.size() - 2)), {file_index, line_no, 1}});
        continue;
      }
      RuleDecl decl;
      size_t k = 0;
      if (rest.substr(0, 9) == "template ") {
        decl.kind = RuleDecl::Kind::kTemplate;
        k = 9;
        while (k < rest.size() && rest[k] == ' ') ++k;
      } else if (rest[0] == '$') {
        decl.kind = RuleDecl::Kind::kVar;
        k = 1;
      }
      size_t name_start = k;
      if (k < rest.size() && IsIdentStart(rest[k])) {
        while (k < rest.size() && IsIdentChar(rest[k])) ++k;
      }
      decl.name = std::string(rest.substr(name_start, k - name_start));
      // "template name ^2:": how often the genre picks this template.
      if (decl.kind == RuleDecl::Kind::kTemplate && k + 1 < rest.size() && rest[k] == ' ' && rest[k + 1] == '^') {
        size_t j = k + 2;
        while (j < rest.size() && (std::isdigit(static_cast<unsigned char>(rest[j])) || rest[j] == '.')) ++j;
        if (!ParseWeightNumber(rest.substr(k + 2, j - k - 2), &decl.weight)) {
          return FileError(display, line_no, static_cast<int>(k) + 2, "bad template weight: write 'template name ^N:'");
        }
        k = j;
      }
      if (decl.name.empty() || k >= rest.size() || rest[k] != ':') {
        return FileError(display, line_no, static_cast<int>(k) + 1,
                         "expected a definition 'name:', '$name:' or 'template name:' at the start "
                         "of the line (alternatives are indented; comments start with '#')");
      }
      if (decl.name == "fact") {
        return FileError(display, line_no, 1, "'fact' is reserved: {fact} states one of the universe's facts");
      }
      if (decl.kind == RuleDecl::Kind::kVar && decl.name == "n") {
        return FileError(display, line_no, 1, "'$n' is reserved: it holds the iteration number inside {*...}");
      }
      decl.loc = {file_index, line_no, static_cast<int>(name_start) + 1};
      std::string key = (decl.kind == RuleDecl::Kind::kVar ? "$" : "") + decl.name;
      auto [it, inserted] = first_line.emplace(key, line_no);
      if (!inserted) {
        return FileError(display, line_no, static_cast<int>(name_start) + 1,
                         absl::StrCat("'", key, "' is defined twice (first at line ", it->second, ")"));
      }
      out.rules.push_back(std::move(decl));
      current = &out.rules.back();
      ++k;  // ':'
      while (k < rest.size() && rest[k] == ' ') ++k;
      if (k < rest.size()) {
        if (absl::Status s = add_inline_alt(rest.substr(k), line_no, static_cast<int>(k) + 1); !s.ok()) return s;
      }
      continue;
    }
    // Indented: a comment, an alternative or a block alternative.
    if (rest[0] == '#' && (rest.size() == 1 || rest[1] == ' ')) continue;
    if (current == nullptr) {
      return FileError(display, line_no, static_cast<int>(ws) + 1,
                       "indented text outside a rule (alternatives go under a 'name:' line)");
    }
    std::string_view probe = rest;
    size_t wpos = 0;
    if (!probe.empty() && probe[0] == '^') {
      wpos = probe.find(' ');
      if (wpos != std::string_view::npos) probe = probe.substr(wpos + 1);
    }
    std::string_view trimmed = probe;
    while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\t')) trimmed.remove_suffix(1);
    if (trimmed == "\"\"\"") {
      double weight = 1.0;
      if (rest[0] == '^' && !ParseWeightNumber(rest.substr(1, wpos - 1), &weight)) {
        return FileError(display, line_no, static_cast<int>(ws) + 1, "bad weight before '\"\"\"'");
      }
      std::string body;
      std::vector<std::pair<int, int>> pos;
      size_t lj = li + 1;
      bool closed = false;
      for (; lj < lines.size(); ++lj) {
        std::string_view bl = lines[lj];
        size_t bws = leading_ws(bl);
        std::string_view bt = bl.substr(bws);
        while (!bt.empty() && (bt.back() == ' ' || bt.back() == '\t')) bt.remove_suffix(1);
        if (bt == "\"\"\"") { closed = true; break; }
        size_t cut = std::min(bws, ws);
        if (lj > li + 1) {
          pos.emplace_back(static_cast<int>(lj), static_cast<int>(lines[lj - 1].size()) + 1);
          body.push_back('\n');
        }
        for (size_t k = cut; k < bl.size(); ++k) {
          pos.emplace_back(static_cast<int>(lj) + 1, static_cast<int>(k) + 1);
          body.push_back(bl[k]);
        }
      }
      if (!closed) {
        return FileError(display, line_no, static_cast<int>(ws) + 1, "unterminated '\"\"\"' block (no closing '\"\"\"')");
      }
      pos.emplace_back(static_cast<int>(lj) + 1, 1);
      absl::StatusOr<Alternative> alt = ParseAlternative(std::move(body), std::move(pos), display, file_index);
      if (!alt.ok()) return alt.status();
      alt->weight = weight;
      alt->loc = {file_index, line_no, static_cast<int>(ws) + 1};
      current->alts.push_back(std::move(*alt));
      li = lj;
      continue;
    }
    if (absl::Status s = add_inline_alt(rest, line_no, static_cast<int>(ws) + 1); !s.ok()) return s;
  }
  if (absl::Status s = finish_rule(); !s.ok()) return s;
  return out;
}

}  // namespace sdft
