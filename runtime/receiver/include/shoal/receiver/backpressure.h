// Back-pressure instead of loss: a background check measures each target
// stream's load (the slowest consumer group's lag + pending, or XLEN with no
// group; and XLEN against the hard cap) and flips that stream's throttle;
// requests bound for a throttled stream are answered 429 with Retry-After
// before anything is written.
//
// Design note
//  - The decision (overLimit, shoal/stream/stream_load.h, which the
//    operator's Throttling condition uses too) is a pure function of one
//    reading and the limits. The gate is read on every request without a lock (one atomic
//    per stream, the set of streams fixed at start-up). The monitor runs its
//    round on the injected Clock; checkOnce() is the round alone, which is
//    what the unit tests drive.
//  - A stream that cannot be measured keeps its last state (Redis being down
//    is answered 503 by the write path anyway), and the round reports Redis
//    as unreachable, which /readyz shows.
//  - A lag Redis cannot give (nil after XDEL/trim) counts as the whole
//    stream length: never less than the truth.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shoal/common/clock.h"
#include "shoal/common/result.h"
#include "shoal/stream/pipeline_config.h"
#include "shoal/stream/stream_load.h"  // StreamLoad, ThrottleLimits, overLimit

namespace shoal::receiver {

/// \brief Which streams are throttled now. Thread-safe; the streams are fixed
/// at construction.
class ThrottleGate {
 public:
  explicit ThrottleGate(std::vector<std::string> streams);
  const std::vector<std::string>& streams() const { return streams_; }
  /// False for a stream the gate does not know.
  bool throttled(std::string_view stream) const;
  void set(size_t index, bool throttled) { flags_[index].store(throttled, std::memory_order_relaxed); }

 private:
  std::vector<std::string> streams_;
  std::unique_ptr<std::atomic<bool>[]> flags_;
};

/// \brief Reads one stream's load. Not thread-safe (the monitor's thread).
class LoadSource {
 public:
  virtual ~LoadSource() = default;
  /// A stream that does not exist has load {0, 0}.
  virtual Result<StreamLoad> load(const std::string& stream) = 0;
};

/// The Redis LoadSource (XINFO GROUPS and XLEN; one server or a cluster).
std::unique_ptr<LoadSource> makeRedisLoadSource(const RedisSourceConfig& redis, Clock& clock);

/// \brief The background check. run() on its own thread; stop() from any.
class BacklogMonitor {
 public:
  struct Observer {
    virtual ~Observer() = default;
    virtual void measured(const std::string& stream, const StreamLoad& load, bool throttled) = 0;
    virtual void reachable(bool ok) = 0;
  };
  BacklogMonitor(ThrottleGate& gate, LoadSource& source, ThrottleLimits limits, Observer& observer);
  /// One round over every stream; returns whether every reading succeeded.
  bool checkOnce();
  /// checkOnce() every `interval` on the clock until stop().
  void run(Clock& clock, Duration interval);
  void stop() { stop_.store(true); }

 private:
  ThrottleGate& gate_;
  LoadSource& source_;
  ThrottleLimits limits_;
  Observer& observer_;
  std::atomic<bool> stop_{false};
};

}  // namespace shoal::receiver
