#include "cli/flags.h"

#include <cerrno>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sdft {

FlagSet::FlagSet(std::string command, std::string usage, std::string summary)
    : command_(std::move(command)), usage_(std::move(usage)), summary_(std::move(summary)) {}

void FlagSet::String(const std::string& name, std::string* v, const std::string& help) {
  Flag f{name, "TEXT", help, v->empty() ? "" : *v};
  f.parse = [v](const std::string& s) { *v = s; return absl::OkStatus(); };
  flags_.push_back(std::move(f));
}

void FlagSet::Int(const std::string& name, int64_t* v, const std::string& help) {
  Flag f{name, "N", help, absl::StrCat(*v)};
  f.parse = [v, name](const std::string& s) {
    if (!absl::SimpleAtoi(s, v)) return absl::InvalidArgumentError(absl::StrCat("--", name, ": '", s, "' is not an integer"));
    return absl::OkStatus();
  };
  flags_.push_back(std::move(f));
}

void FlagSet::UInt(const std::string& name, uint64_t* v, const std::string& help) {
  Flag f{name, "N", help, absl::StrCat(*v)};
  f.parse = [v, name](const std::string& s) {
    if (s.empty() || s[0] == '-' || !absl::SimpleAtoi(s, v)) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": '", s, "' is not a non-negative integer"));
    }
    return absl::OkStatus();
  };
  flags_.push_back(std::move(f));
}

void FlagSet::Double(const std::string& name, double* v, const std::string& help) {
  Flag f{name, "X", help, absl::StrCat(*v)};
  f.parse = [v, name](const std::string& s) {
    if (!absl::SimpleAtod(s, v)) return absl::InvalidArgumentError(absl::StrCat("--", name, ": '", s, "' is not a number"));
    return absl::OkStatus();
  };
  flags_.push_back(std::move(f));
}

void FlagSet::Bool(const std::string& name, bool* v, const std::string& help) {
  Flag f{name, "", help, ""};
  f.is_bool = true;
  f.bool_target = v;
  f.parse = [v, name](const std::string& s) {
    if (s == "true" || s == "1" || s == "yes") *v = true;
    else if (s == "false" || s == "0" || s == "no") *v = false;
    else return absl::InvalidArgumentError(absl::StrCat("--", name, ": '", s, "' is not true/false"));
    return absl::OkStatus();
  };
  flags_.push_back(std::move(f));
}

void FlagSet::Custom(const std::string& name, const std::string& metavar,
                     std::function<absl::Status(const std::string&)> parse, const std::string& help) {
  Flag f{name, metavar, help, ""};
  f.parse = std::move(parse);
  flags_.push_back(std::move(f));
}

FlagSet::Flag* FlagSet::Find(const std::string& name) {
  for (Flag& f : flags_) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

bool FlagSet::Given(const std::string& name) const {
  for (const Flag& f : flags_) {
    if (f.name == name) return f.given;
  }
  return false;
}

absl::Status FlagSet::Parse(const std::vector<std::string>& args, std::vector<std::string>* positional,
                            bool* help_requested) {
  *help_requested = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") { *help_requested = true; return absl::OkStatus(); }
    if (a == "--") {
      for (++i; i < args.size(); ++i) positional->push_back(args[i]);
      break;
    }
    if (a.size() < 3 || a[0] != '-' || a[1] != '-') {
      if (!a.empty() && a[0] == '-' && a != "-") {
        return absl::InvalidArgumentError(absl::StrCat("sdft ", command_, ": unknown option '", a, "' (see sdft ",
                                                       command_, " --help)"));
      }
      positional->push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    Flag* f = Find(name);
    if (f == nullptr && name.rfind("no-", 0) == 0) {
      Flag* b = Find(name.substr(3));
      if (b != nullptr && b->is_bool && !has_value) {
        *b->bool_target = false;
        b->given = true;
        continue;
      }
    }
    if (f == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("sdft ", command_, ": unknown flag '--", name, "' (see sdft ",
                                                     command_, " --help)"));
    }
    if (f->is_bool && !has_value) {
      *f->bool_target = true;
      f->given = true;
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("sdft ", command_, ": --", name, " needs a value"));
      }
      value = args[++i];
    }
    if (absl::Status s = f->parse(value); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("sdft ", command_, ": ", s.message()));
    }
    f->given = true;
  }
  return absl::OkStatus();
}

std::string FlagSet::Help() const {
  std::string out = absl::StrCat("usage: ", usage_, "\n\n", summary_, "\n");
  if (!flags_.empty()) out += "\nflags:\n";
  for (const Flag& f : flags_) {
    std::string left = absl::StrCat("  --", f.name, f.metavar.empty() ? "" : " " + f.metavar);
    absl::StrAppendFormat(&out, "%-24s %s", left, f.help);
    if (!f.default_text.empty()) absl::StrAppend(&out, " (default: ", f.default_text, ")");
    out += "\n";
  }
  return out;
}

}  // namespace sdft
