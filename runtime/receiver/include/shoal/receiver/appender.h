// The receiver's one seam to Redis for writing: append entries to streams
// and say whether every one landed. The Redis implementation pipelines XADDs
// in batches per stream (one server or a Redis Cluster, through KeyedClient)
// and, when asked, WAITs for replicas; unit tests use a recording fake.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shoal/common/clock.h"
#include "shoal/common/result.h"
#include "shoal/stream/pipeline_config.h"

namespace shoal::receiver {

/// One XADD: up to three field/value pairs. Views into the request and the
/// configuration, valid for the append() call.
struct Append {
  std::string_view stream;
  std::array<std::pair<std::string_view, std::string_view>, 3> fields{};
  uint8_t fieldCount = 0;
};

/// \brief Appends entries to streams. Thread-safe.
class StreamAppender {
 public:
  virtual ~StreamAppender() = default;
  /// Appends every entry, in order within each stream. On success, the new
  /// ids in the order of `entries`. An error means not every entry is known
  /// to have landed (some may have: a retry can duplicate them); with
  /// waitReplicas, also fewer replicas than asked acknowledged in time.
  virtual Result<std::vector<std::string>> append(const std::vector<Append>& entries) = 0;
};

struct RedisAppenderOptions {
  RedisSourceConfig redis;    // connection fields
  size_t batch = 1000;        // XADDs per pipeline
  int64_t waitReplicas = 0;   // > 0: WAIT for this many replicas after each stream's XADDs
  int64_t waitTimeoutMs = 100;
  /// Called with each pipeline's round-trip seconds (the XADD latency).
  std::function<void(double)> observeLatency;
};

/// The Redis implementation: a pool of clients (one per concurrent request,
/// idle ones kept), each a KeyedClient over one server or a cluster.
std::unique_ptr<StreamAppender> makeRedisAppender(RedisAppenderOptions options, Clock& clock);

}  // namespace shoal::receiver
