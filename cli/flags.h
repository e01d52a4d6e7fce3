// A small command-line flag parser for sdft's subcommands: --name VALUE,
// --name=VALUE, boolean --name, positional arguments, and generated --help.
// Errors name the flag and the command.
#ifndef SDFT_CLI_FLAGS_H_
#define SDFT_CLI_FLAGS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace sdft {

class FlagSet {
 public:
  FlagSet(std::string command, std::string usage, std::string summary);

  void String(const std::string& name, std::string* v, const std::string& help);
  void Int(const std::string& name, int64_t* v, const std::string& help);
  void UInt(const std::string& name, uint64_t* v, const std::string& help);
  void Double(const std::string& name, double* v, const std::string& help);
  void Bool(const std::string& name, bool* v, const std::string& help);
  // A flag parsed by a custom function (e.g. "--shard I/K").
  void Custom(const std::string& name, const std::string& metavar,
              std::function<absl::Status(const std::string&)> parse, const std::string& help);

  // Parses argv (argv[0] excluded). Sets *help_requested for -h/--help.
  absl::Status Parse(const std::vector<std::string>& args, std::vector<std::string>* positional,
                     bool* help_requested);
  std::string Help() const;
  // Whether a flag was given on the command line.
  bool Given(const std::string& name) const;

 private:
  struct Flag {
    std::string name, metavar, help, default_text;
    bool is_bool = false;
    bool* bool_target = nullptr;
    std::function<absl::Status(const std::string&)> parse;
    bool given = false;
  };
  Flag* Find(const std::string& name);
  std::string command_, usage_, summary_;
  std::vector<Flag> flags_;
};

}  // namespace sdft

#endif  // SDFT_CLI_FLAGS_H_
