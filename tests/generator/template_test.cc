// Template language: parsing, expansion semantics, modifiers and every
// load-time error with its file:line:col message.
#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "common/rng.h"
#include "generator/expander.h"
#include "generator/grammar.h"
#include "generator/modifiers.h"
#include "generator/template_parser.h"
#include "tests/test_util.h"

namespace sdft {
namespace {

struct Loaded {
  std::unique_ptr<Grammar> grammar;
  absl::Status status;
};

// Loads `text` as genre file "t.sdt" (plus optional facts) and finalizes.
Loaded Load(const std::string& text, const std::vector<std::string>& fact_paraphrases = {}) {
  Loaded l;
  l.grammar = std::make_unique<Grammar>();
  l.status = l.grammar->AddSource("t.sdt", text, ".", "g");
  if (!l.status.ok()) return l;
  if (!fact_paraphrases.empty()) {
    int f = l.grammar->AddExternalFile("u.toml");
    for (size_t i = 0; i < fact_paraphrases.size(); ++i) {
      l.status = l.grammar->AddFact("f" + std::to_string(i), 1.0, {{fact_paraphrases[i], SourceLoc{f, 1, 1}}});
      if (!l.status.ok()) return l;
    }
  }
  l.status = l.grammar->Finalize();
  return l;
}

std::string ExpandDoc(const Grammar& g, uint64_t seed, ExpandedDoc* doc = nullptr, ExpandLimits limits = {}) {
  Expander ex(g, limits);
  Rng rng(seed);
  ExpandedDoc local;
  ExpandedDoc* d = doc ? doc : &local;
  absl::Status s = ex.Expand(g.templates().at(0).rule, rng, d);
  EXPECT_TRUE(s.ok()) << s;
  return d->text;
}

std::string ErrorOf(const std::string& text) {
  Loaded l = Load(text);
  EXPECT_FALSE(l.status.ok()) << "expected an error for:\n" << text;
  return std::string(l.status.message());
}

TEST(TemplateParseTest, RulesAlternativesWeightsAndBlocks) {
  Loaded l = Load(
      "# comment\n"
      "greeting:\n"
      "  hello\n"
      "  ^3 hi there\n"
      "  # indented comment\n"
      "one: single inline alternative\n"
      "template doc:\n"
      "  \"\"\"\n"
      "  {greeting}\n"
      "\n"
      "    indented line\n"
      "  \"\"\"\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  const Grammar& g = *l.grammar;
  ASSERT_EQ(g.templates().size(), 1u);
  EXPECT_EQ(g.templates()[0].name, "g/doc");
  const Rule* greeting = nullptr;
  for (const Rule& r : g.rules()) {
    if (r.name == "greeting") greeting = &r;
  }
  ASSERT_NE(greeting, nullptr);
  ASSERT_EQ(greeting->alts.size(), 2u);
  EXPECT_DOUBLE_EQ(greeting->alts[1].weight, 3.0);
  std::string doc = ExpandDoc(g, 1);
  // Block keeps newlines; spaces at line starts are tidied away.
  EXPECT_TRUE(doc == "hello\n\nindented line" || doc == "hi there\n\nindented line") << doc;
}

TEST(TemplateParseTest, TemplateWeights) {
  Loaded l = Load("template a ^3: x\ntemplate b: y\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  ASSERT_EQ(l.grammar->templates().size(), 2u);
  EXPECT_DOUBLE_EQ(l.grammar->templates()[0].weight, 3.0);
  EXPECT_DOUBLE_EQ(l.grammar->templates()[1].weight, 1.0);
  EXPECT_EQ(ErrorOf("template a ^x: y\n").rfind("t.sdt:1:12: bad template weight", 0), 0u);
}

TEST(TemplateParseTest, WeightsAreRespected) {
  Loaded l = Load("template doc:\n  ^9 a\n  b\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  int a = 0;
  for (uint64_t s = 0; s < 2000; ++s) a += ExpandDoc(*l.grammar, s) == "a";
  EXPECT_GT(a, 1700);
  EXPECT_LT(a, 1900);
}

TEST(TemplateExpandTest, InlineChoiceOptionalAndEscapes) {
  Loaded l = Load("template doc: x{a|b}[y][0% never][100% always] \\{lit\\} \\[z\\] a|b \\n!\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  std::set<std::string> seen;
  for (uint64_t s = 0; s < 200; ++s) seen.insert(ExpandDoc(*l.grammar, s));
  EXPECT_EQ(seen, (std::set<std::string>{"xaalways {lit} [z] a|b\n!", "xayalways {lit} [z] a|b\n!",
                                          "xbalways {lit} [z] a|b\n!", "xbyalways {lit} [z] a|b\n!"}));
}

TEST(TemplateExpandTest, VariablesAreBoundOncePerDocument) {
  Loaded l = Load(
      "name: {Ann|Bob|Cy|Di|Ed|Flo|Gus|Hal}\n"
      "$ceo: {name}\n"
      "template doc: {$ceo} {$ceo} {$ceo} / {name} {name} {name} {name} {name} {name}\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  int fresh_differ = 0;
  for (uint64_t s = 0; s < 50; ++s) {
    std::string d = ExpandDoc(*l.grammar, s);
    std::string left = d.substr(0, d.find(" / "));
    std::string first = left.substr(0, left.find(' '));
    EXPECT_EQ(left, first + " " + first + " " + first) << d;
    std::string right = d.substr(d.find(" / ") + 3);
    std::set<std::string> words;
    for (size_t p = 0; p < right.size();) {
      size_t q = right.find(' ', p);
      if (q == std::string::npos) q = right.size();
      words.insert(right.substr(p, q - p));
      p = q + 1;
    }
    fresh_differ += words.size() > 1;
  }
  EXPECT_GT(fresh_differ, 40) << "plain rule references must be re-drawn each time";
}

TEST(TemplateExpandTest, RepetitionScopesBindingsAndCounts) {
  Loaded l = Load(
      "who: {p|q|r|s|t|u|v|w}\n"
      "reply: \\[{$n}:{$u=who}{$u}{$u}\\]\n"
      "template doc: {*3 reply \",\"}|{*0-2 reply}\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  for (uint64_t s = 0; s < 100; ++s) {
    std::string d = ExpandDoc(*l.grammar, s);
    std::string three = d.substr(0, d.find('|'));
    // "[1:xx],[2:yy],[3:zz]" with each reply's two letters equal.
    ASSERT_EQ(three.size(), 20u) << d;
    for (int k = 0; k < 3; ++k) {
      EXPECT_EQ(three[k * 7 + 1], '1' + k) << d;
      EXPECT_EQ(three[k * 7 + 3], three[k * 7 + 4]) << d;
    }
  }
}

TEST(TemplateExpandTest, NumbersAndDates) {
  Loaded l = Load(
      "$d: {@2024-02-28..2024-03-01}\n"
      "template doc: {#5-7} {#1000-1000.commas} {#22-22.ordinal} {$d.iso} {$d} {$d.weekday} {@2021-01-01.year}\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  std::set<std::string> days;
  for (uint64_t s = 0; s < 300; ++s) {
    std::string d = ExpandDoc(*l.grammar, s);
    int n = d[0] - '0';
    EXPECT_GE(n, 5);
    EXPECT_LE(n, 7);
    EXPECT_NE(d.find(" 1,000 22nd "), std::string::npos) << d;
    EXPECT_NE(d.find(" 2021"), std::string::npos) << d;
    days.insert(d.substr(d.find("2024-")));
  }
  // One date variable, rendered three ways, always the same day.
  EXPECT_EQ(days, (std::set<std::string>{"2024-02-28 February 28, 2024 Wednesday 2021",
                                          "2024-02-29 February 29, 2024 Thursday 2021",
                                          "2024-03-01 March 1, 2024 Friday 2021"}));
}

TEST(TemplateExpandTest, BoundDatesKeepTheirDate) {
  Loaded l = Load("template doc: {$d={@2024-03-05}}{$d}|{$d.iso}|{$d.weekday}\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(ExpandDoc(*l.grammar, 1), "March 5, 2024|2024-03-05|Tuesday");
  // A variable also bound to text is not a date.
  EXPECT_FALSE(Load("x: y\ntemplate doc: {$d={@2024-03-05}}{$d={x}}{$d.iso}\n").status.ok());
}

TEST(TemplateExpandTest, Modifiers) {
  auto apply = [](Modifier m, std::string s) {
    ApplyModifier(m, &s, INT64_MIN);
    return s;
  };
  EXPECT_EQ(apply(Modifier::kCapitalize, "\"hello\" world"), "\"Hello\" world");
  EXPECT_EQ(apply(Modifier::kTitle, "the state of the art in ai"), "The State of the Art in Ai");
  EXPECT_EQ(apply(Modifier::kUpper, "abc é"), "ABC é");
  EXPECT_EQ(apply(Modifier::kA, "apple"), "an apple");
  EXPECT_EQ(apply(Modifier::kA, "user"), "a user");
  EXPECT_EQ(apply(Modifier::kA, "hour"), "an hour");
  EXPECT_EQ(apply(Modifier::kA, "FAQ"), "an FAQ");
  EXPECT_EQ(apply(Modifier::kA, "banana"), "a banana");
  EXPECT_EQ(apply(Modifier::kPlural, "policy"), "policies");
  EXPECT_EQ(apply(Modifier::kPlural, "box"), "boxes");
  EXPECT_EQ(apply(Modifier::kPlural, "key"), "keys");
  EXPECT_EQ(apply(Modifier::kPlural, "person"), "people");
  EXPECT_EQ(apply(Modifier::kPlural, "data scientist"), "data scientists");
  EXPECT_EQ(apply(Modifier::kPossessive, "Halcyon Labs"), "Halcyon Labs'");
  EXPECT_EQ(apply(Modifier::kPossessive, "Meridian"), "Meridian's");
  EXPECT_EQ(apply(Modifier::kCommas, "1234567 users"), "1,234,567 users");
  EXPECT_EQ(apply(Modifier::kOrdinal, "11"), "11th");
  EXPECT_EQ(apply(Modifier::kOrdinal, "3"), "3rd");
  Loaded l = Load("x: hello world\ntemplate doc: {x.title.possessive} {x.upper.lower}\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(ExpandDoc(*l.grammar, 1), "Hello World's hello world");
}

TEST(TemplateExpandTest, FactsDrawnWithoutReplacementAndRecorded) {
  Loaded l = Load("template doc: {fact}|{fact}|{fact}|{fact.upper}\n", {"alpha", "beta", "gamma"});
  ASSERT_TRUE(l.status.ok()) << l.status;
  for (uint64_t s = 0; s < 50; ++s) {
    ExpandedDoc d;
    std::string text = ExpandDoc(*l.grammar, s, &d);
    std::vector<std::string> parts;
    for (size_t p = 0; p <= text.size();) {
      size_t q = text.find('|', p);
      if (q == std::string::npos) q = text.size();
      parts.push_back(text.substr(p, q - p));
      p = q + 1;
    }
    ASSERT_EQ(parts.size(), 4u);
    EXPECT_EQ(std::set<std::string>(parts.begin(), parts.begin() + 3).size(), 3u) << text;
    EXPECT_EQ(d.facts.size(), 3u);
    EXPECT_TRUE(parts[3] == "ALPHA" || parts[3] == "BETA" || parts[3] == "GAMMA") << parts[3];
  }
}

// fact_paraphrases = 2: every statement is one of the fact's first two
// paraphrases; without the limit the others appear too.
TEST(TemplateExpandTest, FactParaphrasesLimitsTheAlternatives) {
  Loaded l;
  l.grammar = std::make_unique<Grammar>();
  ASSERT_TRUE(l.grammar->AddSource("t.sdt", "template doc: {fact}\n", ".", "g").ok());
  const int f = l.grammar->AddExternalFile("u.toml");
  std::vector<std::pair<std::string, SourceLoc>> paraphrases;
  for (const char* p : {"p0", "p1", "p2", "p3", "p4"}) paraphrases.push_back({p, SourceLoc{f, 1, 1}});
  ASSERT_TRUE(l.grammar->AddFact("f", 1.0, paraphrases).ok());
  ASSERT_TRUE(l.grammar->Finalize().ok());
  std::set<std::string> limited, all;
  ExpandLimits two;
  two.fact_paraphrases = 2;
  for (uint64_t s = 0; s < 100; ++s) {
    limited.insert(ExpandDoc(*l.grammar, s, nullptr, two));
    all.insert(ExpandDoc(*l.grammar, s));
  }
  EXPECT_EQ(limited, (std::set<std::string>{"p0", "p1"}));
  EXPECT_EQ(all.size(), 5u);
}

TEST(TemplateExpandTest, RecursionWithBaseCaseIsBoundedByDepth) {
  Loaded l = Load("list:\n  x\n  ^20 x{list}\ntemplate doc: {list}\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  ExpandLimits limits;
  limits.max_depth = 10;
  for (uint64_t s = 0; s < 50; ++s) {
    std::string d = ExpandDoc(*l.grammar, s, nullptr, limits);
    EXPECT_GE(d.size(), 1u);
    EXPECT_LE(d.size(), 9u) << "depth 10 allows template + at most 9 nested list expansions";
  }
}

TEST(TemplateExpandTest, OutputSizeIsBounded) {
  Loaded l = Load("big: 0123456789012345678901234567890123456789\nrow: {*100 big}\ntemplate doc: {*100 row}\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  Expander ex(*l.grammar, ExpandLimits{64, 10000});
  Rng rng(1);
  ExpandedDoc d;
  absl::Status s = ex.Expand(l.grammar->templates()[0].rule, rng, &d);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("grew past 10000 bytes"), std::string::npos) << s;
  EXPECT_NE(s.message().find("t.sdt:"), std::string::npos) << s;
}

TEST(TemplateExpandTest, WhitespaceIsTidied) {
  std::string s = "  Hello  [gone] , world .\n\n\n\nNext   line  \n end ";
  NormalizeWhitespace(&s);
  EXPECT_EQ(s, "Hello [gone], world.\n\nNext line\nend");
}

TEST(TemplateExpandTest, BindRuleShorthand) {
  Loaded l = Load("nm: {Zed|Yan}\ntemplate doc: {$who=nm}{$who}-{$who} {$w=Word}{$w} {$e=}[{$e}]x\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  std::string d = ExpandDoc(*l.grammar, 3);
  // A bare name binds that rule's expansion; a word that is no rule is itself.
  EXPECT_TRUE(d == "Zed-Zed Word x" || d == "Yan-Yan Word x") << d;
}

TEST(TemplateExpandTest, RepetitionDrawsDistinctItems) {
  Loaded l = Load("item: {a|b}\n  c\n  d\n  e\ntemplate doc: {*4 item \",\"}|{*6 item \",\"}\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  for (uint64_t s = 0; s < 100; ++s) {
    std::string d = ExpandDoc(*l.grammar, s);
    std::string four = d.substr(0, d.find('|'));
    std::set<char> seen;
    for (char c : four) if (c != ',') seen.insert(c == 'b' ? 'a' : c);
    EXPECT_EQ(seen.size(), 4u) << "four iterations over four alternatives must use each once: " << d;
    EXPECT_EQ(d.size() - d.find('|') - 1, 11u) << d;  // six items: all four, then repeats
  }
}

TEST(TemplateExpandTest, NumberModifiers) {
  Loaded l = Load("template doc: {#7-7.pad2}:{#12-12.pad2} {#11-11.a} {#18000-18000.commas.a} {#1100-1100.commas.a} {#8-8.a}\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  EXPECT_EQ(ExpandDoc(*l.grammar, 1), "07:12 an 11 an 18,000 a 1,100 an 8");
}

// ---- Load-time errors: every one names file:line:col. ----

TEST(TemplateErrorTest, UnknownRule) {
  EXPECT_EQ(ErrorOf("template doc:\n  see {nothing}\n"), "t.sdt:2:7: unknown rule 'nothing'");
}

TEST(TemplateErrorTest, UnknownVariable) {
  EXPECT_EQ(ErrorOf("template doc: {$ghost}\n").rfind("t.sdt:1:15: unknown variable '$ghost'", 0), 0u);
}

TEST(TemplateErrorTest, UnclosedBrace) {
  EXPECT_EQ(ErrorOf("template doc:\n  a {b\n"), "t.sdt:2:5: unclosed '{'");
}

TEST(TemplateErrorTest, UnmatchedBrace) {
  EXPECT_EQ(ErrorOf("template doc: a } b\n").rfind("t.sdt:1:17: unmatched '}'", 0), 0u);
}

TEST(TemplateErrorTest, UnclosedBracket) {
  EXPECT_EQ(ErrorOf("template doc: [opt\n"), "t.sdt:1:15: unclosed '['");
}

TEST(TemplateErrorTest, UnmatchedBracket) {
  EXPECT_EQ(ErrorOf("x: ok\ntemplate doc: a]\n").rfind("t.sdt:2:16: unmatched ']'", 0), 0u);
}

TEST(TemplateErrorTest, UnclosedBraceInsideBlockReportsItsLine) {
  EXPECT_EQ(ErrorOf("template doc:\n  \"\"\"\n  line one\n  two {x\n  \"\"\"\n"), "t.sdt:4:7: unclosed '{'");
}

TEST(TemplateErrorTest, UnterminatedBlock) {
  EXPECT_EQ(ErrorOf("template doc:\n  \"\"\"\n  text\n"), "t.sdt:2:3: unterminated '\"\"\"' block (no closing '\"\"\"')");
}

TEST(TemplateErrorTest, RecursionWithoutBaseCase) {
  std::string e = ErrorOf("a: x {b}\nb: y {a}\ntemplate doc: {a}\n");
  EXPECT_EQ(e.rfind("t.sdt:1:1: recursion without a base case: every alternative of 'a'", 0), 0u) << e;
}

TEST(TemplateErrorTest, SelfRecursionWithOptionalIsFine) {
  Loaded l = Load("a: x[ {a}]\ntemplate doc: {a}\n");
  EXPECT_TRUE(l.status.ok()) << l.status;
}

TEST(TemplateErrorTest, BadModifier) {
  std::string e = ErrorOf("x: y\ntemplate doc: {x.shout}\n");
  EXPECT_EQ(e.rfind("t.sdt:2:18: unknown modifier 'shout' (known: capitalize, title,", 0), 0u) << e;
}

TEST(TemplateErrorTest, DateModifierOnNonDate) {
  EXPECT_EQ(ErrorOf("x: y\ntemplate doc: {x.iso}\n"), "t.sdt:2:15: modifier 'iso' applies to dates only");
  std::string e = ErrorOf("$v: text\ntemplate doc: {$v.year}\n");
  EXPECT_EQ(e.rfind("t.sdt:2:15: modifier 'year' applies to dates only", 0), 0u) << e;
}

TEST(TemplateErrorTest, MalformedPieces) {
  EXPECT_EQ(ErrorOf("template doc: {#9-1}\n"), "t.sdt:1:15: empty number range: the upper bound is below the lower");
  EXPECT_EQ(ErrorOf("template doc: {@2024-02-30}\n").rfind("t.sdt:1:17: expected a date range", 0), 0u);
  EXPECT_EQ(ErrorOf("template doc:\n  ^x text\n").rfind("t.sdt:2:3: bad weight", 0), 0u);
  EXPECT_EQ(ErrorOf("template doc: a \\q\n").rfind("t.sdt:1:17: unknown escape '\\q'", 0), 0u);
  EXPECT_EQ(ErrorOf("template doc: {just words}\n").rfind("t.sdt:1:15: '{...}' must hold", 0), 0u);
  EXPECT_EQ(ErrorOf("x: a\nx: b\ntemplate doc: {x}\n"), "t.sdt:2:1: 'x' is defined twice (first at line 1)");
  EXPECT_EQ(ErrorOf("empty:\ntemplate doc: {empty}\n").rfind("t.sdt:1:1: rule 'empty' has no alternatives", 0), 0u);
  EXPECT_EQ(ErrorOf("  stray\n").rfind("t.sdt:1:3: indented text outside a rule", 0), 0u);
  EXPECT_EQ(ErrorOf("no colon here\n").rfind("t.sdt:1:3: expected a definition", 0), 0u);
  EXPECT_EQ(ErrorOf("template doc: {fact}\n"), "t.sdt:1:15: {fact} used, but the universe defines no facts");
}

TEST(TemplateErrorTest, InvalidUtf8IsRefused) {
  std::string e = ErrorOf("ok: fine\ntemplate doc: caf\xC3\x28 bad\n");
  EXPECT_EQ(e, "t.sdt:2:18: invalid UTF-8 (byte 0xC3); template files must be UTF-8");
  // Valid multi-byte text is fine.
  Loaded l = Load("template doc: café ☕ 😀\n");
  EXPECT_TRUE(l.status.ok()) << l.status;
}

TEST(TemplateErrorTest, IncludesAndAmbiguity) {
  testing::ScratchDir dir;
  testing::WriteAll(dir / "a.sdt", "word: from-a\n");
  testing::WriteAll(dir / "b.sdt", "word: from-b\n");
  testing::WriteAll(dir / "g.sdt", "@include \"a.sdt\"\ntemplate doc: {word}\n");
  {
    Grammar g;
    ASSERT_TRUE(g.AddFile(dir / "g.sdt", "g").ok());
    ASSERT_TRUE(g.Finalize().ok());
    EXPECT_EQ(ExpandDoc(g, 1), "from-a");
  }
  testing::WriteAll(dir / "h.sdt", "@include \"a.sdt\"\n@include \"b.sdt\"\ntemplate doc: {word}\n");
  {
    Grammar g;
    ASSERT_TRUE(g.AddFile(dir / "h.sdt", "h").ok());
    absl::Status s = g.Finalize();
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("h.sdt:3:15: rule 'word' is ambiguous"), std::string::npos) << s;
  }
  testing::WriteAll(dir / "m.sdt", "@include \"missing.sdt\"\ntemplate doc: x\n");
  {
    Grammar g;
    absl::Status s = g.AddFile(dir / "m.sdt", "m");
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("m.sdt:1:1: cannot find included file 'missing.sdt'"), std::string::npos) << s;
  }
}

TEST(TemplateErrorTest, UndefinedVariableReadBeforeBindIsARuntimeError) {
  Loaded l = Load("template doc: {$late} {$late=a|b}\n");
  ASSERT_TRUE(l.status.ok()) << l.status;
  Expander ex(*l.grammar);
  Rng rng(1);
  ExpandedDoc d;
  absl::Status s = ex.Expand(l.grammar->templates()[0].rule, rng, &d);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "t.sdt:1:15: variable '$late' is read before anything binds it");
}

}  // namespace
}  // namespace sdft
