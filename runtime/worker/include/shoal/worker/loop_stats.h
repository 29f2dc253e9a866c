// LoopStats: the consumer loop's counters as a value (a header of its own so
// that the loop's parts need not see the loop, nor through it Redis).
#pragma once

#include <cstdint>

namespace shoal {

/// \brief Counters of what the loop did (also exported as Prometheus metrics).
/// A snapshot; thread-safe to obtain through ConsumerLoop::stats().
struct LoopStats {
  int64_t read = 0;
  int64_t delivered = 0;
  int64_t deadLettered = 0;
  int64_t retried = 0;
  int64_t claimed = 0;
  int64_t batches = 0;
};

}  // namespace shoal
