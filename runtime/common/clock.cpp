// Real and manual clocks.
#include "shoal/common/clock.h"

#include <thread>

namespace shoal {

void SystemClock::sleepFor(Duration d) {
  if (d > Duration::zero()) std::this_thread::sleep_for(d);
}

SystemClock& SystemClock::instance() {
  static SystemClock c;
  return c;
}

// A fixed, recognisable start so tests print stable times.
ManualClock::ManualClock()
    : mono_(MonoTime{} + std::chrono::hours(1000)),
      wall_(WallTime{} + std::chrono::seconds(1'700'000'000)) {}

MonoTime ManualClock::now() const {
  std::lock_guard l(mu_);
  return mono_;
}

WallTime ManualClock::wallNow() const {
  std::lock_guard l(mu_);
  return wall_;
}

void ManualClock::advance(Duration d) {
  std::lock_guard l(mu_);
  mono_ += d;
  wall_ += std::chrono::duration_cast<WallTime::duration>(d);
}

}  // namespace shoal
