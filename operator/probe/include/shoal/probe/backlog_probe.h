// BacklogProbe: measures a consumer group's backlog (lag + pending) and the
// stream's counters for every WorkerPool and Pipeline that reads it.
//
// Design note
// - One reading (XINFO GROUPS, then XINFO STREAM; for a sharded source that
//   pair per shard) per (redis address, stream, group) per poll interval,
//   shared by every reader
//   of that stream: a reading younger than the caller's maxAge is served
//   from the cache.
// - Nothing is guessed: a nil lag stays unknown (the policy never scales
//   down on it), a failed read says why (Redis unreachable, stream or group
//   missing) and carries no numbers.
// - Rates are computed from the previous reading of the same key
//   (entries-added and entries-read growth over the monotonic clock).
// - I/O goes through StreamInspector, so tests use a fake and the operator
//   uses RedisStreamInspector (runtime/redis).
// Thread-safe: the cache is locked; reads of one key are serialized so two
// pools polling together cause one round trip.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "shoal/common/clock.h"
#include "shoal/common/result.h"
#include "shoal/probe/retention.h"
#include "shoal/stream/stream_load.h"

namespace shoal::probe {

/// Where a stream lives and how to log in. Credentials come from the Secret
/// the Pipeline references; never logged.
struct RedisTarget {
  std::string url;      // redis:// or rediss:// (takes precedence when set)
  std::string address;  // host:port
  int64_t db = 0;
  bool tls = false;
  bool tlsInsecureSkipVerify = false;
  std::string tlsServerName;
  std::string username;
  std::string password;
  std::string tlsCaPem;    // from tls.caSecretRef; empty: system CAs
  std::string tlsCertPem;  // from tls.clientCertSecretRef (tls.crt)
  std::string tlsKeyPem;   // (tls.key)
  /// Redis Cluster: `address` (or the url's host) is a seed node; commands
  /// are routed by hash slot and follow MOVED/ASK (runtime/redis_cluster).
  bool cluster = false;
  /// The cache key part: where, not who (credentials excluded).
  std::string endpoint() const;
};

/// Why a reading failed.
enum class ReadFailure { kNone, kUnreachable, kStreamNotFound, kGroupNotFound, kAuth, kProtocol };

/// CamelCase for conditions: RedisUnreachable, StreamNotFound, ...
const char* failureReason(ReadFailure f);

/// The failure an error of a Redis round trip stands for (auth refusals,
/// server and protocol errors, a missing stream, else unreachable): one
/// rule for the readings and the load reads.
ReadFailure classifyFailure(const Error& e);

/// One reading of a stream and its group, raw from Redis.
struct StreamSnapshot {
  std::optional<int64_t> lag;            // nil from Redis stays nullopt
  std::optional<int64_t> pending;
  std::optional<int64_t> entriesRead;    // group's entries-read
  std::optional<int64_t> entriesAdded;   // stream's entries-added
  int64_t length = 0;
  int64_t consumers = 0;
  /// Over several shard streams: every figure above is the sum over shards
  /// (consumers: the most on one shard), and the shard with the largest
  /// backlog is named, so that one hot shard shows.
  int32_t shards = 1;
  std::string hottestShard;
  std::optional<int64_t> hottestShardBacklog;
};

/// Sums shard snapshots as StreamSnapshot documents; a nil in any shard makes
/// that sum nil (unknown is never read as zero).
StreamSnapshot sumShards(const std::vector<std::pair<std::string, StreamSnapshot>>& shards);

/// \brief The Redis side of the probe. Implementations need not be
/// thread-safe: BacklogProbe serializes calls.
class StreamInspector {
 public:
  virtual ~StreamInspector() = default;
  /// XINFO GROUPS + XINFO STREAM. On failure: the reason and a message.
  virtual Result<StreamSnapshot> inspect(const RedisTarget& target, const std::string& stream,
                                         const std::string& group, ReadFailure* failure) = 0;
  /// XGROUP CREATE stream group startId MKSTREAM; ok if it already exists.
  virtual Result<void> ensureGroup(const RedisTarget& target, const std::string& stream,
                                   const std::string& group, const std::string& startId) = 0;
  /// XGROUP DESTROY; ok if the group or stream is already gone.
  virtual Result<void> destroyGroup(const RedisTarget& target, const std::string& stream,
                                    const std::string& group) = 0;
  /// One atomic safe trim of `stream` (trimScript(), one EVAL); nowMs is the
  /// wall time the age rule is measured from. A missing stream is not an
  /// error (streamExists false). Inspectors that cannot trim say so.
  virtual Result<TrimOutcome> trim(const RedisTarget& target, const std::string& stream,
                                   const RetentionRule& rule, int64_t nowMs);
  /// The stream's load over all its groups, as the receivers' back-pressure
  /// reads it (shoal/redis_cluster/stream_load.h): a Receiver's Throttling.
  /// A missing stream is {0, 0}. Inspectors that cannot measure it say so.
  virtual Result<StreamLoad> load(const RedisTarget& target, const std::string& stream);
};

/// What a pool or pipeline sees: a snapshot (or why not) plus derived rates.
struct BacklogReading {
  bool ok = false;
  ReadFailure failure = ReadFailure::kNone;
  std::string error;  // human text when !ok
  StreamSnapshot snapshot;
  /// lag + pending when both are known.
  std::optional<int64_t> backlog() const;
  std::optional<double> arrivalRate;      // entries/s, from entries-added
  std::optional<double> consumptionRate;  // entries/s, from entries-read
  MonoTime at{};
};

/// \brief Told about every Redis round trip that failed (not about cached
/// readings served again), for the operator's metrics. Must be thread-safe.
class ProbeObserver {
 public:
  virtual ~ProbeObserver() = default;
  virtual void readFailed(ReadFailure failure) = 0;
};

/// \brief Cached, shared backlog readings. Thread-safe.
class BacklogProbe {
 public:
  BacklogProbe(std::shared_ptr<StreamInspector> inspector, Clock& clock,
               ProbeObserver* observer = nullptr);
  /// Returns a reading no older than maxAge for (target, stream, group).
  BacklogReading read(const RedisTarget& target, const std::string& stream,
                      const std::string& group, Duration maxAge);
  /// The same over the shard streams of one pipeline (one round trip per
  /// shard), summed (sumShards). A shard that cannot be read (missing stream
  /// or group, unreachable) fails the whole reading, naming the shard: never
  /// a backlog that leaves a shard out.
  BacklogReading read(const RedisTarget& target, const std::vector<std::string>& shardStreams,
                      const std::string& group, Duration maxAge);
  /// StreamInspector::ensureGroup / destroyGroup, serialized with the
  /// readings and trims (the inspector is not thread-safe: every call to it
  /// goes through the probe).
  Result<void> ensureGroup(const RedisTarget& target, const std::string& stream, const std::string& group,
                           const std::string& startId);
  Result<void> destroyGroup(const RedisTarget& target, const std::string& stream, const std::string& group);
  /// Trims each of the streams (the shards of one pipeline) in turn, each
  /// atomically (StreamInspector::trim), serialized with the readings. One
  /// result per stream, in order; a failed shard does not stop the others.
  std::vector<Result<TrimOutcome>> trim(const RedisTarget& target, const std::vector<std::string>& streams,
                                        const RetentionRule& rule, int64_t nowMs);
  /// The load of each stream (StreamInspector::load), uncached, serialized
  /// with the readings; stops at the first stream that cannot be read.
  Result<std::vector<StreamLoad>> loads(const RedisTarget& target, const std::vector<std::string>& streams);
  /// Round trips made so far (for tests and metrics).
  int64_t roundTrips() const;
  /// Forget readings older than maxIdle (pools that went away).
  void prune(Duration maxIdle);

 private:
  struct Entry {
    std::mutex readMu;  // one round trip per key at a time
    BacklogReading last;
    std::optional<BacklogReading> previousOk;
    MonoTime lastUsed{};
  };
  using Key = std::tuple<std::string, std::string, std::string>;
  std::shared_ptr<Entry> entryFor(const Key& key);

  std::shared_ptr<StreamInspector> inspector_;
  Clock& clock_;
  ProbeObserver* observer_;
  mutable std::mutex mu_;
  std::mutex inspectMu_;  // the inspector is not thread-safe
  std::map<Key, std::shared_ptr<Entry>> entries_;
  int64_t roundTrips_ = 0;
};

/// The real inspector over runtime/redis: one reconnecting client per
/// endpoint+credentials, kept between polls.
std::shared_ptr<StreamInspector> makeRedisStreamInspector(Clock& clock);

}  // namespace shoal::probe
