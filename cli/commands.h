// The subcommands of `sdft`. Each takes its arguments (after the subcommand
// name) and returns the process exit code: 0 ok, 2 user error, 130 interrupted.
#ifndef SDFT_CLI_COMMANDS_H_
#define SDFT_CLI_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace sdft {

int GenerateCommand(const std::vector<std::string>& args);
int StatsCommand(const std::vector<std::string>& args);
int ClassifyCommand(const std::vector<std::string>& args);
int OrganismCommand(const std::vector<std::string>& args);
int SampleSetCommand(const std::vector<std::string>& args);
int ExperimentCommand(const std::vector<std::string>& args);
int MergeCommand(const std::vector<std::string>& args);


}  // namespace sdft

#endif  // SDFT_CLI_COMMANDS_H_
