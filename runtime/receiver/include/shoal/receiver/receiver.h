// The receiver's HTTP front: decoding a request, choosing each entry's
// stream, refusing what a throttled stream would get (429), writing the rest
// and answering only once Redis has every entry (2xx), or 503 when it does
// not. Over the StreamAppender and ThrottleGate seams, so the whole request
// path runs in unit tests with a fake appender.
//
// What a 2xx guarantees: every entry of the request (and every rejected
// entry's record in <stream>:rejected) was acknowledged by the Redis primary,
// and with durability.waitReplicas by that many replicas; nothing else. A
// 503 may follow a partial write: a retry can then duplicate entries (the
// workers' deterministic document ids make a duplicate entry one document
// only when the producer repeats ids; the receiver does not deduplicate).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shoal/common/clock.h"
#include "shoal/http/server.h"
#include "shoal/receiver/appender.h"
#include "shoal/receiver/backpressure.h"
#include "shoal/receiver/config.h"
#include "shoal/receiver/decode.h"

namespace shoal::receiver {

/// Largest payload kept in a <stream>:rejected record.
inline constexpr size_t kRejectedPayloadBytes = 1024;

/// \brief What the request path reports (the Prometheus implementation is
/// metrics.h). Thread-safe.
class ReceiverStats {
 public:
  virtual ~ReceiverStats() = default;
  virtual void request(std::string_view path, int status) = 0;
  virtual void accepted(std::string_view stream, int64_t entries) = 0;
  virtual void rejected(std::string_view reason, int64_t entries) = 0;
  virtual void throttled(int64_t entries) = 0;
  /// Whether the last write reached Redis.
  virtual void writeOutcome(bool reachedRedis) = 0;
};

/// The streams a configuration writes to (every shard of every route), the
/// set the throttle gate and the backlog monitor work over.
std::vector<std::string> targetStreams(const ReceiverConfig& cfg);

/// \brief The HTTP routes. Thread-safe (handlers run concurrently).
class Receiver {
 public:
  Receiver(const ReceiverConfig& cfg, StreamAppender& appender, const ThrottleGate& gate, ReceiverStats& stats,
           Clock& clock);
  ~Receiver();

  /// POST /v1/logs, /v1/metrics, /_bulk and /<index>/_bulk, /api/v1/write,
  /// for the routes that are configured.
  void addRoutes(http::Server& server);

  enum class Kind { kLogs, kMetrics };
  http::ServerResponse events(Kind kind, const http::ServerRequest& req);
  http::ServerResponse bulk(const http::ServerRequest& req);
  /// Prometheus remote write: 204 once every sample's event is stored.
  http::ServerResponse remoteWrite(const http::ServerRequest& req);

 private:
  struct Target;
  bool authorized(const http::ServerRequest& req) const;
  /// The stream of one entry: by streamFromField, else the shard (by key or
  /// round robin).
  std::string_view pick(Target& t, bool hasKey, std::string_view key);
  /// pick() for a bulk item (its index, or a member of its source).
  std::string_view bulkTarget(Target& t, const BulkItem& item);
  http::ServerResponse throttledResponse(int64_t entries);
  /// Refuses (429) if an entry is bound for a throttled stream, else writes
  /// them all; a response when they were not all stored (429, 503).
  std::optional<http::ServerResponse> store(const Target& t, const std::vector<Append>& appends,
                                            std::vector<std::string>& ids);
  http::ServerResponse unavailable(const Error& e);

  const ReceiverConfig& cfg_;
  StreamAppender& appender_;
  const ThrottleGate& gate_;
  ReceiverStats& stats_;
  Clock& clock_;
  std::unique_ptr<Target> logs_, metrics_, bulk_, remoteWrite_;
  std::string expectedAuthorization_;
};

}  // namespace shoal::receiver
