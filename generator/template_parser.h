// Parses template files (.sdt) into rule definitions, and template text (a
// rule alternative, a fact paraphrase) into node sequences. Syntax errors come
// back as "file:line:col: message". See docs/template-language.md.
#ifndef SDFT_GENERATOR_TEMPLATE_PARSER_H_
#define SDFT_GENERATOR_TEMPLATE_PARSER_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "generator/template_ast.h"

namespace sdft {

struct RuleDecl {
  enum class Kind { kRule, kTemplate, kVar };
  Kind kind = Kind::kRule;
  std::string name;  // without '$'
  std::vector<Alternative> alts;
  SourceLoc loc;
  double weight = 1.0;  // templates: how often the genre picks it
};

struct IncludeDecl {
  std::string path;  // as written, relative to the including file
  SourceLoc loc;
};

struct ParsedFile {
  std::vector<IncludeDecl> includes;
  std::vector<RuleDecl> rules;
};

// `display` names the file in errors; `file_index` goes into every SourceLoc.
absl::StatusOr<ParsedFile> ParseTemplateFile(std::string_view text, const std::string& display,
                                             int file_index);

// Parses one piece of template text (no rule structure), e.g. a paraphrase in
// a universe spec. Positions are reported relative to (line, col) of its start.
absl::StatusOr<Seq> ParseTemplateText(std::string_view text, const std::string& display,
                                      int file_index, int line, int col);

// Days since 1970-01-01 for a proleptic Gregorian date, and back.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d);

// Modifier names as written after '.', and back.
bool ParseModifier(std::string_view name, Modifier* out);
std::string ModifierName(Modifier m);
std::string KnownModifierList();

}  // namespace sdft

#endif  // SDFT_GENERATOR_TEMPLATE_PARSER_H_
