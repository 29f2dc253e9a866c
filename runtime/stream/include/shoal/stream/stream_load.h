// A stream's load as back-pressure sees it, and the rule that throttles it:
// shoal-receiver refuses writes to a stream over its limits, and the
// operator reports the same judgement as the Receiver's Throttling
// condition, so both read the load one way (shoal/redis_cluster/stream_load.h)
// and judge it with this one function.
#pragma once

#include <cstdint>

namespace shoal {

struct StreamLoad {
  /// The slowest consumer group's lag + pending (a lag Redis cannot give
  /// counts as the whole length: never less than the truth); XLEN with no group.
  int64_t backlog = 0;
  int64_t length = 0;  // XLEN
};

/// spec.backpressure's limits; 0 means no such limit.
struct ThrottleLimits {
  int64_t maxBacklog = 0;
  int64_t maxLength = 0;
};

/// Whether writes to a stream with this load are to be refused.
inline bool overLimit(const StreamLoad& l, const ThrottleLimits& lim) {
  return (lim.maxBacklog > 0 && l.backlog > lim.maxBacklog) || (lim.maxLength > 0 && l.length >= lim.maxLength);
}

}  // namespace shoal
