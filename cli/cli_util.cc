#include "cli/cli_util.h"

#include "cli/flags.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

namespace sdft {

int ReportError(const absl::Status& status, const char* interrupted_message) {
  if (absl::IsCancelled(status)) {
    std::fprintf(stderr, "sdft: %s\n", interrupted_message);
    return 130;
  }
  std::fprintf(stderr, "sdft: %s\n", std::string(status.message()).c_str());
  return 2;
}

bool ParseFlags(FlagSet& flags, const std::vector<std::string>& args, std::vector<std::string>* positional,
                int* exit_code) {
  bool help = false;
  if (absl::Status s = flags.Parse(args, positional, &help); !s.ok()) {
    *exit_code = ReportError(s);
    return false;
  }
  if (help) {
    std::fputs(flags.Help().c_str(), stdout);
    *exit_code = 0;
    return false;
  }
  return true;
}

std::string SelfDir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return std::filesystem::path(buf).parent_path().string();
}

}  // namespace sdft
