// What every sdft executable's command line shares: printing a user error
// once and choosing the exit code, and finding sibling executables.
#ifndef SDFT_CLI_CLI_UTIL_H_
#define SDFT_CLI_CLI_UTIL_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace sdft {

// Prints "sdft: <message>" and returns 2; for Cancelled (Ctrl-C) prints
// `interrupted_message` and returns 130.
int ReportError(const absl::Status& status,
                const char* interrupted_message = "interrupted; no output was finished");

class FlagSet;
// Parses a command's flags. Returns false when the command should return
// *exit_code at once: 0 after printing --help, 2 after reporting an error.
bool ParseFlags(FlagSet& flags, const std::vector<std::string>& args, std::vector<std::string>* positional,
                int* exit_code);

// The directory holding the running executable.
std::string SelfDir();

// Runs an executable from SelfDir() (e.g. "sdft-torch") with `args` and
// waits; returns its exit code (128 + signal when killed, 127 when it could
// not start, 2 with a message when it was not built).
int RunSibling(const std::string& binary, const std::vector<std::string>& args);

// `sdft score` and `sdft sample-set`: encodes SET with RUN's tokenizer
// (`sdft-tokenize encode-set ENCODE_FLAGS`) into a temporary file, then runs
// `sdft-torch COMMAND --run RUN --set IDS --out OUT TORCH_FLAGS`, and removes
// the temporary file. Returns the first non-zero exit code.
int RunOnEncodedSet(const std::string& run, const std::string& set, const std::string& out,
                    const std::vector<std::string>& encode_flags, const std::string& command,
                    const std::vector<std::string>& torch_flags);

}  // namespace sdft

#endif  // SDFT_CLI_CLI_UTIL_H_
