// Helpers shared by the tests: scratch directories, file I/O, running the CLI.
#ifndef SDFT_TESTS_TEST_UTIL_H_
#define SDFT_TESTS_TEST_UTIL_H_

#include <string>

namespace sdft::testing {

// A fresh empty directory under the test's temp root, removed by the caller's
// ScratchDir destructor.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string ReadAll(const std::string& path);
void WriteAll(const std::string& path, const std::string& contents);

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs a shell command line, capturing its output.
CommandResult RunCommand(const std::string& command_line);

// Paths into the source and build trees.
std::string SourcePath(const std::string& rel);
std::string SdftBinary();

}  // namespace sdft::testing

#endif  // SDFT_TESTS_TEST_UTIL_H_
