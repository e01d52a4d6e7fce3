#include "common/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>

namespace sdft {
namespace {

std::atomic<int> g_signals{0};

void OnSignal(int) {
  if (g_signals.fetch_add(1) >= 1) _exit(130);
  const char msg[] = "\ninterrupted: stopping and removing partial output (Ctrl-C again to force)\n";
  (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
}

}  // namespace

void InstallInterruptHandler() {
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool Interrupted() { return g_signals.load(std::memory_order_relaxed) > 0; }

void SetInterruptedForTesting(bool value) { g_signals.store(value ? 1 : 0); }

}  // namespace sdft
