// The parsed form of template text: a sequence of nodes (literal text, rule and
// variable references, choices, optional parts, ranges, repetition). Produced
// by template_parser, resolved by Grammar, walked by Expander.
#ifndef SDFT_GENERATOR_TEMPLATE_AST_H_
#define SDFT_GENERATOR_TEMPLATE_AST_H_

#include <cstdint>
#include <string>
#include <vector>

namespace sdft {

// Where something came from, for error messages: file:line:col.
struct SourceLoc {
  int file = -1;  // Index into Grammar's file list.
  int line = 0;
  int col = 0;
};

enum class Modifier : uint8_t {
  kCapitalize, kTitle, kUpper, kLower, kA, kPlural, kPossessive, kCommas, kOrdinal,
  // Date formats: valid only on dates.
  kDateLong, kDateShort, kDateIso, kDateNumeric, kDateDmy, kDateMonthYear,
  kDateYear, kDateMonth, kDateDay, kDateWeekday,
  kPad2,  // numbers: zero-pad to two digits (7 -> 07); listed last, not a date format
};
bool IsDateModifier(Modifier m);

struct Node;
using Seq = std::vector<Node>;

// One weighted option of a rule or an inline choice.
struct Alternative {
  double weight = 1.0;
  Seq body;
  SourceLoc loc;
  int depth = 0;  // least expansion depth of `body` (set by Grammar::Finalize)
};

struct Node {
  enum class Kind : uint8_t {
    kText,      // text
    kRule,      // {name.mods}: name -> target after resolution
    kVar,       // {$name.mods}
    kChoice,    // {a|b|c}
    kOptional,  // [text] / [30% text]
    kBind,      // {$name=a|b}: choice in `alts`, outputs nothing
    kInt,       // {#lo-hi.mods}
    kDate,      // {@YYYY-MM-DD..YYYY-MM-DD.mods}: lo/hi are days since 1970-01-01
    kRepeat,    // {*lo-hi name "sep"}: iteration number bound to $n
    kFact,      // {fact.mods}
  };
  Kind kind = Kind::kText;
  SourceLoc loc;
  std::string text;       // kText: literal; kRule/kVar/kBind/kRepeat: name; kRepeat: separator in `sep`
  std::string sep;        // kRepeat separator
  std::vector<Modifier> mods;
  std::vector<Alternative> alts;  // kChoice, kBind options; kOptional: one alternative
  double prob = 0.5;              // kOptional
  int64_t lo = 0, hi = 0;         // kInt, kDate, kRepeat
  int target = -1;                // resolved rule index (kRule, kRepeat) or var index (kVar, kBind)
  int def = -1;                   // kVar: rule index of the variable's definition, -1 if none
  bool literal_fallback = false;  // kRule from {$x=word}: plain text if no rule 'word' exists
};

}  // namespace sdft

#endif  // SDFT_GENERATOR_TEMPLATE_AST_H_
