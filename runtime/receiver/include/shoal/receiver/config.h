// The receiver's configuration: a Receiver resource (or its spec) as YAML,
// the contract in docs/receiver.md, plus the environment for what never sits
// in the spec (the Redis server and secrets, as for the worker; the
// receiver's TLS files and credentials). Read with the stream module's field
// readers; every problem is a ConfigError naming the field (shoal-receiver
// prints it and exits 2).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <string>

#include "shoal/stream/pipeline_config.h"

namespace shoal::receiver {

/// The most values a route's streamFromField may list.
inline constexpr size_t kMaxStreamsFromField = 256;

/// A route's streamFromField: the value of one field of each entry picks its
/// stream from a bounded mapping; a missing field or a value not listed goes
/// to the route's `stream`. The field is a top-level member of the JSON
/// object (value as written: a string's text between the quotes, a number
/// as written), for remoteWrite a label (`__name__` routes by metric name),
/// for bulk `_index` (the default there) is the item's index: the action's
/// `_index`, else the path's `/<index>/_bulk`.
struct StreamFromField {
  std::string field;  // empty: the route has no streamFromField
  std::map<std::string, std::string, std::less<>> streams;  // value -> stream
};

/// One HTTP route's target: `stream`, or its `shards` shard streams
/// (shoal/stream/shards.h), the shard picked by the `shardKey` member's value
/// (for remoteWrite: the label's) or round robin; or, with streamFromField
/// (never with shards > 1), the stream its field's value names.
struct RouteConfig {
  bool enabled = false;  // absent route: its path answers 404
  std::string stream;
  int32_t shards = 1;
  std::string shardKey;
  StreamFromField fromField;
  /// The member (label) each entry's key is read from: streamFromField's
  /// field when set, else shardKey.
  const std::string& keyMember() const { return fromField.field.empty() ? shardKey : fromField.field; }
};

struct ReceiverConfig {
  /// The connection fields only (url | address, db, tls, cluster, timeouts).
  RedisSourceConfig redis;

  int httpPort = 0;  // 0: no HTTP listener
  int64_t maxBodyBytes = 10 << 20;
  RouteConfig logs, metrics, bulk, remoteWrite;
  /// Authentication (env SHOAL_RECEIVER_BEARER_TOKEN, or
  /// SHOAL_RECEIVER_USERNAME + SHOAL_RECEIVER_PASSWORD); empty: none.
  std::string bearerToken, username, password;
  /// HTTPS (env SHOAL_RECEIVER_TLS_CERT_FILE / _KEY_FILE); empty: plain HTTP.
  std::string tlsCertFile, tlsKeyFile;

  int64_t maxEntryBytes = 1 << 20;
  int64_t maxConnections = 1024;
  int64_t readTimeoutSeconds = 30;
  int64_t idleTimeoutSeconds = 120;

  int64_t maxBacklog = 1000000;  // 0: no backlog throttle
  int64_t maxLength = 0;         // 0: no cap on XLEN
  int64_t retryAfterSeconds = 1;
  int64_t checkIntervalMilliseconds = 1000;

  int64_t waitReplicas = 0;
  int64_t waitTimeoutMilliseconds = 100;

  int metricsPort = 9090;  // 0: none

  /// spec.syslog as given; a null node when absent.
  YAML::Node syslog;
  /// spec.syslog parsed: a port of 0 means no such listener. TLS serves the
  /// certificate in SHOAL_RECEIVER_TLS_CERT_FILE / _KEY_FILE.
  struct Syslog {
    int tcpPort = 0, udpPort = 0, tlsPort = 0;
    std::string stream;                              // route.stream: the default target
    std::map<std::string, std::string> byFacility;   // route.byFacility
    bool any() const { return tcpPort != 0 || udpPort != 0 || tlsPort != 0; }
  } syslogListeners;
};

/// Parses a Receiver (with `spec:`) or its spec, then the environment:
/// SHOAL_REDIS_URL, _USERNAME, _PASSWORD, _PASSWORD_FILE, _TLS_*_FILE;
/// SHOAL_RECEIVER_BEARER_TOKEN, _USERNAME, _PASSWORD, _TLS_CERT_FILE,
/// _TLS_KEY_FILE. Throws ConfigError.
ReceiverConfig loadReceiverConfig(const YAML::Node& doc, const std::map<std::string, std::string>& env);
ReceiverConfig loadReceiverConfigFile(const std::string& path, const std::map<std::string, std::string>& env);

}  // namespace shoal::receiver
