// Jittered exponential backoff ("full jitter" between base and the capped
// exponential bound). Randomness is injected through a seed so tests are
// deterministic.
#pragma once

#include <cstdint>
#include <random>

#include "shoal/common/clock.h"

namespace shoal {

/// \brief Exponential backoff with jitter. Not thread-safe.
class Backoff {
 public:
  Backoff(Duration base, Duration max, uint64_t seed = std::random_device{}());
  /// The delay before the next attempt; grows with each call up to max.
  Duration next();
  void reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }
  Duration base() const { return base_; }
  Duration max() const { return max_; }

 private:
  Duration base_;
  Duration max_;
  int attempt_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace shoal
