// Ctrl-C / SIGTERM handling for long jobs: the first signal sets a flag that
// workers poll so the job can stop and remove its temporary files; a second
// signal exits immediately.
#ifndef SDFT_COMMON_INTERRUPT_H_
#define SDFT_COMMON_INTERRUPT_H_

namespace sdft {

void InstallInterruptHandler();
bool Interrupted();
// For tests: raise or clear the flag by hand.
void SetInterruptedForTesting(bool value);

}  // namespace sdft

#endif  // SDFT_COMMON_INTERRUPT_H_
