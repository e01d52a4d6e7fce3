// Crash-safe file output: bytes go to a hidden temporary name in the target
// directory, are fsync'ed, then renamed over the final name (and the directory
// fsync'ed). A file under its final name is therefore always complete. Every
// write error (disk full, I/O) is reported with the file's name.
#ifndef SDFT_COMMON_ATOMIC_FILE_H_
#define SDFT_COMMON_ATOMIC_FILE_H_

#include <cstdio>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace sdft {

class AtomicFile {
 public:
  AtomicFile() = default;
  ~AtomicFile();  // Discards the temporary file unless Commit() succeeded.
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Creates the temporary file next to `final_path`.
  absl::Status Open(const std::string& final_path);
  absl::Status Write(std::string_view data);
  // fsync, close, rename onto the final name, fsync the directory.
  absl::Status Commit();
  // Removes the temporary file (safe to call at any time, e.g. on Ctrl-C).
  void Abort();

  const std::string& final_path() const { return final_path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  std::string final_path_, temp_path_;
  std::FILE* file_ = nullptr;
  size_t unsynced_ = 0;  // bytes written since write-back was last started
};

// Writes `contents` to `path` atomically.
absl::Status WriteFileAtomically(const std::string& path, std::string_view contents);

// Reads a whole file; NotFound / error status names the path.
absl::Status ReadFile(const std::string& path, std::string* contents);

// fsyncs a directory so a rename inside it is durable.
absl::Status SyncDirectory(const std::string& dir);

}  // namespace sdft

#endif  // SDFT_COMMON_ATOMIC_FILE_H_
