#include "common/progress.h"

#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sdft {

Progress::Progress(std::string label, uint64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total),
      enabled_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

Progress::~Progress() { Finish(); }

void Progress::Update(uint64_t done, uint64_t bytes, const std::string& extra) {
  if (!enabled_) return;
  extra_ = extra;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  Draw(done, bytes, false);
}

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  if (drawn_) std::fputc('\n', stderr);
}

void Progress::Draw(uint64_t done, uint64_t bytes, bool) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = secs > 0 ? done / secs : 0;
  std::string line = absl::StrFormat("\r%s: %d", label_, done);
  if (total_ > 0) absl::StrAppendFormat(&line, "/%d", total_);
  absl::StrAppendFormat(&line, " %s  %.0f %s/s", unit_, rate, unit_);
  if (bytes > 0 && secs > 0) absl::StrAppendFormat(&line, "  %.1f MB/s", bytes / secs / 1e6);
  if (!extra_.empty()) absl::StrAppend(&line, "  ", extra_);
  if (total_ > 0 && rate > 0 && done <= total_) {
    absl::StrAppend(&line, "  ETA ", FormatDuration((total_ - done) / rate));
  }
  absl::StrAppend(&line, "\033[K");
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  drawn_ = true;
}

std::string FormatDuration(double seconds) {
  long s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return absl::StrFormat("%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
  return absl::StrFormat("%02d:%02d", s / 60, s % 60);
}

}  // namespace sdft
