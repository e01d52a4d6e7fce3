// Parallel map with in-order delivery: chunks are produced by worker threads in
// any order but consumed on the calling thread strictly in index order, so the
// output bytes do not depend on the thread count. Memory is bounded by a window
// of chunks in flight. Stops early on the first error or on Ctrl-C.
#ifndef SDFT_COMMON_ORDERED_PARALLEL_H_
#define SDFT_COMMON_ORDERED_PARALLEL_H_

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/interrupt.h"

namespace sdft {

// produce(chunk) -> StatusOr<T> runs on workers; consume(chunk, T&) runs on
// the caller, in order. threads <= 1 runs everything on the calling thread.
template <typename T>
absl::Status RunOrdered(size_t num_chunks, int threads,
                        const std::function<absl::StatusOr<T>(size_t)>& produce,
                        const std::function<absl::Status(size_t, T&)>& consume, size_t window = 0) {
  if (threads <= 1) {
    for (size_t c = 0; c < num_chunks; ++c) {
      if (Interrupted()) return absl::CancelledError("interrupted");
      absl::StatusOr<T> r = produce(c);
      if (!r.ok()) return r.status();
      if (absl::Status s = consume(c, *r); !s.ok()) return s;
    }
    return absl::OkStatus();
  }
  if (window == 0) window = 32 * static_cast<size_t>(threads);

  std::mutex mu;
  std::condition_variable produced_cv, consumed_cv;
  std::vector<std::optional<absl::StatusOr<T>>> slots(window);
  size_t next_chunk = 0, next_consume = 0;
  bool stop = false;

  auto worker = [&]() {
    for (;;) {
      size_t c;
      {
        std::unique_lock<std::mutex> lock(mu);
        consumed_cv.wait(lock, [&] { return stop || next_chunk < next_consume + window; });
        if (stop || next_chunk >= num_chunks) return;
        c = next_chunk++;
      }
      absl::StatusOr<T> r = Interrupted() ? absl::StatusOr<T>(absl::CancelledError("interrupted")) : produce(c);
      {
        std::lock_guard<std::mutex> lock(mu);
        slots[c % window] = std::move(r);
      }
      produced_cv.notify_all();
    }
  };

  // threads-1 workers; the calling thread produces too whenever the chunk it
  // must consume next is not ready, so no core sits idle and none is shared
  // by three busy threads.
  std::vector<std::thread> pool;
  for (int t = 0; t + 1 < threads; ++t) pool.emplace_back(worker);

  absl::Status status = absl::OkStatus();
  for (size_t c = 0; c < num_chunks; ++c) {
    std::optional<absl::StatusOr<T>> r;
    for (;;) {
      size_t mine = num_chunks;
      {
        std::unique_lock<std::mutex> lock(mu);
        if (slots[c % window].has_value()) {
          r = std::move(slots[c % window]);
          slots[c % window].reset();
          break;
        }
        if (next_chunk < num_chunks && next_chunk < next_consume + window) {
          mine = next_chunk++;
        } else {
          produced_cv.wait(lock, [&] { return slots[c % window].has_value(); });
          continue;
        }
      }
      absl::StatusOr<T> produced =
          Interrupted() ? absl::StatusOr<T>(absl::CancelledError("interrupted")) : produce(mine);
      std::lock_guard<std::mutex> lock(mu);
      slots[mine % window] = std::move(produced);
    }
    status = r->ok() ? consume(c, **r) : r->status();
    {
      std::lock_guard<std::mutex> lock(mu);
      next_consume = c + 1;
      if (!status.ok()) stop = true;
    }
    consumed_cv.notify_all();
    if (!status.ok()) break;
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
  }
  consumed_cv.notify_all();
  for (auto& t : pool) t.join();
  return status;
}

}  // namespace sdft

#endif  // SDFT_COMMON_ORDERED_PARALLEL_H_
