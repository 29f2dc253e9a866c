// Waiting between retries of a sink without missing cancellation: the wait is
// cut into short slices of the injected clock, checking the token between.
#pragma once

#include <algorithm>

#include "shoal/common/clock.h"
#include "shoal/stream/stream_entry.h"

namespace shoal::metrics {

/// Sleeps d on clock, in slices of at most 50 ms; returns false if cancel
/// turned true (before or during the wait).
inline bool waitOrCancelled(Clock& clock, Duration d, const CancelToken& cancel) {
  const Duration slice = std::chrono::milliseconds(50);
  while (d.count() > 0) {
    if (cancel.cancelled()) return false;
    const Duration step = std::min(d, slice);
    clock.sleepFor(step);
    d -= step;
  }
  return !cancel.cancelled();
}

/// HTTP statuses worth retrying forever: no answer, 429, 5xx.
inline bool retryableHttpStatus(int status) { return status == 0 || status == 429 || status >= 500; }

}  // namespace shoal::metrics
