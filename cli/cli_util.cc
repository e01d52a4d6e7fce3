#include "cli/cli_util.h"

#include "cli/flags.h"
#include "common/interrupt.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
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

int RunSibling(const std::string& binary, const std::vector<std::string>& args) {
  const std::string bin = (std::filesystem::path(SelfDir()) / binary).string();
  if (!std::filesystem::exists(bin)) {
    std::fprintf(stderr, "sdft: %s was not built (%s)\n", binary.c_str(), bin.c_str());
    return 2;
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(bin.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  if (pid < 0) return 127;
  int status = 0;
  bool forwarded = false;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    // A signal sent to this process alone (kill PID, a scheduler's SIGTERM;
    // Ctrl-C reaches the whole process group anyway) must stop the child
    // too, or it runs on, orphaned, writing into a stage directory.
    if (Interrupted() && !forwarded) {
      kill(pid, SIGINT);
      forwarded = true;
    }
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int RunOnEncodedSet(const std::string& run, const std::string& set, const std::string& out,
                    const std::vector<std::string>& encode_flags, const std::string& command,
                    const std::vector<std::string>& torch_flags) {
  const std::string ids = out + ".ids.partial";
  std::vector<std::string> encode = {"encode-set"};
  encode.insert(encode.end(), encode_flags.begin(), encode_flags.end());
  encode.insert(encode.end(), {"--tokenizer", run + "/tokenizer.model", "--in", set, "--out", ids});
  int rc = RunSibling("sdft-tokenize", encode);
  if (rc == 0) {
    std::vector<std::string> torch = {command, "--run", run, "--set", ids, "--out", out};
    torch.insert(torch.end(), torch_flags.begin(), torch_flags.end());
    rc = RunSibling("sdft-torch", torch);
  }
  std::remove(ids.c_str());
  return rc;
}

}  // namespace sdft
