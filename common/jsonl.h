// Reading JSONL files line by line, with errors that name file:line.
#ifndef SDFT_COMMON_JSONL_H_
#define SDFT_COMMON_JSONL_H_

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"

namespace sdft {

// Calls fn(line_number, object) for every non-empty line of `path`, in order;
// stops at the first error fn returns. A line that is not a JSON object is an
// error "path:line: not a JSON object".
absl::Status ForEachJsonLine(const std::string& path,
                             const std::function<absl::Status(int, nlohmann::ordered_json&)>& fn);

// InvalidArgument "path:line: what".
absl::Status LineError(const std::string& path, int line, const std::string& what);

}  // namespace sdft

#endif  // SDFT_COMMON_JSONL_H_
