// Jittered exponential backoff.
#include "shoal/common/backoff.h"

#include <algorithm>

namespace shoal {

Backoff::Backoff(Duration base, Duration max, uint64_t seed)
    : base_(base), max_(std::max(base, max)), rng_(seed) {}

Duration Backoff::next() {
  // Upper bound doubles per attempt; the delay is uniform in [bound/2, bound]
  // so retries spread out but never collapse to zero.
  const int shift = std::min(attempt_, 30);
  ++attempt_;
  int64_t bound = base_.count();
  for (int i = 0; i < shift && bound < max_.count(); ++i) bound *= 2;
  bound = std::min<int64_t>(bound, max_.count());
  std::uniform_int_distribution<int64_t> dist(bound / 2, bound);
  return Duration(dist(rng_));
}

}  // namespace shoal
