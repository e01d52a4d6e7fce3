#include "common/atomic_file.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace sdft {
namespace {

absl::Status ErrnoError(const std::string& what, const std::string& path, int err) {
  std::string msg = absl::StrCat(path, ": ", what, ": ", std::strerror(err));
  if (err == ENOSPC) absl::StrAppend(&msg, " (the disk is full)");
  if (err == ENOENT) return absl::NotFoundError(msg);
  return absl::InternalError(msg);
}

}  // namespace

AtomicFile::~AtomicFile() { Abort(); }

absl::Status AtomicFile::Open(const std::string& final_path) {
  Abort();
  final_path_ = final_path;
  std::filesystem::path p(final_path);
  std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
  temp_path_ = absl::StrCat(dir, "/.", p.filename().string(), ".partial.", getpid());
  file_ = std::fopen(temp_path_.c_str(), "wb");
  if (file_ == nullptr) return ErrnoError("cannot create", temp_path_, errno);
  std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
  return absl::OkStatus();
}

absl::Status AtomicFile::Write(std::string_view data) {
  if (file_ == nullptr) return absl::FailedPreconditionError("AtomicFile not open");
  if (data.empty()) return absl::OkStatus();
  if (std::fwrite(data.data(), 1, data.size(), file_) != data.size()) {
    return ErrnoError("write failed", final_path_, errno);
  }
  // Start write-back of what is written so far, without waiting, so the
  // fsync in Commit() has little left to do on large files.
  unsynced_ += data.size();
  if (unsynced_ >= (32u << 20)) {
    if (std::fflush(file_) != 0) return ErrnoError("write failed", final_path_, errno);
    sync_file_range(fileno(file_), 0, 0, SYNC_FILE_RANGE_WRITE);
    unsynced_ = 0;
  }
  return absl::OkStatus();
}

absl::Status AtomicFile::Commit() {
  if (file_ == nullptr) return absl::FailedPreconditionError("AtomicFile not open");
  if (std::fflush(file_) != 0) return ErrnoError("write failed", final_path_, errno);
  if (fsync(fileno(file_)) != 0) return ErrnoError("fsync failed", final_path_, errno);
  std::FILE* f = file_;
  file_ = nullptr;
  if (std::fclose(f) != 0) {
    int err = errno;
    unlink(temp_path_.c_str());
    return ErrnoError("close failed", final_path_, err);
  }
  if (std::rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
    int err = errno;
    unlink(temp_path_.c_str());
    return ErrnoError("rename failed", final_path_, err);
  }
  temp_path_.clear();
  std::filesystem::path p(final_path_);
  return SyncDirectory(p.has_parent_path() ? p.parent_path().string() : ".");
}

void AtomicFile::Abort() {
  if (file_ != nullptr) {
    std::fclose(file_);
    file_ = nullptr;
  }
  if (!temp_path_.empty()) {
    unlink(temp_path_.c_str());
    temp_path_.clear();
  }
}

absl::Status WriteFileAtomically(const std::string& path, std::string_view contents) {
  AtomicFile f;
  if (absl::Status s = f.Open(path); !s.ok()) return s;
  if (absl::Status s = f.Write(contents); !s.ok()) return s;
  return f.Commit();
}

absl::Status ReadFile(const std::string& path, std::string* contents) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return ErrnoError("cannot open", path, errno);
  contents->clear();
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) contents->append(buf, n);
  bool err = std::ferror(f);
  int saved = errno;
  std::fclose(f);
  if (err) return ErrnoError("read failed", path, saved);
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return ErrnoError("cannot open directory", dir, errno);
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  if (rc != 0 && err != EINVAL) return ErrnoError("fsync failed", dir, err);
  return absl::OkStatus();
}

}  // namespace sdft
