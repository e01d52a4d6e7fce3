// Text modifiers of the template language ({name.capitalize}, {$d.iso}, ...):
// English-aware casing, articles, plurals, possessives, number and date
// formatting. Non-ASCII text passes through untouched.
#ifndef SDFT_GENERATOR_MODIFIERS_H_
#define SDFT_GENERATOR_MODIFIERS_H_

#include <cstdint>
#include <string>

#include "generator/template_ast.h"

namespace sdft {

// Applies `m` to `s` in place. `date_days` is the date behind `s` (days since
// 1970-01-01) when the value is a date, else INT64_MIN (date modifiers are
// then no-ops; the grammar rejects them at load time).
void ApplyModifier(Modifier m, std::string* s, int64_t date_days);

// The default rendering of a date: "March 5, 2024".
std::string FormatDate(int64_t days, Modifier format);

}  // namespace sdft

#endif  // SDFT_GENERATOR_MODIFIERS_H_
