// A one-line progress display (count, rate, ETA) redrawn at most ~10 times a
// second on a terminal, and silent when stderr is not a TTY (logs, CI).
#ifndef SDFT_COMMON_PROGRESS_H_
#define SDFT_COMMON_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace sdft {

class Progress {
 public:
  // `total` may be 0 when unknown (no ETA then). `unit` names what is counted.
  Progress(std::string label, uint64_t total, std::string unit);
  ~Progress();  // Finishes the line if anything was drawn.

  // Reports absolute progress: `done` units and `bytes` processed so far.
  // `extra` (e.g. "loss 2.31") is shown after the rate.
  void Update(uint64_t done, uint64_t bytes = 0, const std::string& extra = "");
  void Finish();
  bool enabled() const { return enabled_; }
  void set_enabled(bool e) { enabled_ = e; }

 private:
  void Draw(uint64_t done, uint64_t bytes, bool final);
  std::string extra_;
  std::string label_, unit_;
  uint64_t total_;
  bool enabled_, drawn_ = false, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1:02:03" / "02:03" for a duration in seconds.
std::string FormatDuration(double seconds);

}  // namespace sdft

#endif  // SDFT_COMMON_PROGRESS_H_
