// The stream pipeline's configuration types: one Pipeline `spec` as the
// worker sees it. The loop-level sections (source, delivery) are typed here;
// `transform` and `sink` stay as YAML nodes that each pipeline type (logs,
// metrics) parses itself, reporting problems as ConfigError with the field
// path, e.g. "spec.sink.elasticsearch.url". Loading from a file plus the
// environment is the worker's (shoal/worker/config.h).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace shoal {

/// Thrown only while loading configuration at startup; shoal-worker prints it
/// and exits 2.
class ConfigError : public std::runtime_error {
 public:
  ConfigError(std::string field, const std::string& problem)
      : std::runtime_error(field + ": " + problem), field_(std::move(field)) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

struct RedisTlsConfig {
  bool enabled = false;            // also implied by a rediss:// URL
  std::string caFile;              // PEM bundle; empty: system default CAs
  std::string certFile, keyFile;   // client certificate (optional)
  std::string serverName;          // SNI / verification name; default: host
  bool insecureSkipVerify = false; // off by default
};

struct RedisSourceConfig {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string username;  // env SHOAL_REDIS_USERNAME
  std::string password;  // env SHOAL_REDIS_PASSWORD or passwordFile; never from the spec
  RedisTlsConfig tls;
  std::string stream;             // required
  std::string consumerGroup = "shoal";
  std::string startId = "$";      // where a new group starts: "$" (new entries) or "0" (all)
  std::string deadLetterStream;   // default: "<stream>:dead"
  int64_t maxDeliveries = 5;      // deliveries after which an entry is dead-lettered
  int64_t claimMinIdleMs = 60000; // XAUTOCLAIM entries idle longer than this
  int64_t claimIntervalMs = 5000; // how often the reclaim sweep runs
  int64_t connectTimeoutMs = 2000;
  int64_t readTimeoutMs = 5000;
  int64_t blockMs = 1000;         // XREADGROUP BLOCK
  int32_t shards = 1;             // > 1: read "<stream>:{0}".."<stream>:{shards-1}" (shoal/stream/shards.h)
  bool cluster = false;           // Redis Cluster: host:port is a seed node
};

struct DeliveryConfig {
  int64_t batchSize = 500;            // entries per batch
  int64_t batchBytes = 4 << 20;       // bytes per batch
  int64_t lingerMs = 20;              // wait at most this long to fill a batch
  int64_t retryInitialMs = 100;       // first retry delay (jittered, exponential)
  int64_t retryMaxMs = 5000;          // retry delay cap
  int64_t maxEntryBytes = 1 << 20;    // larger entries are dead-lettered
  int64_t shutdownTimeoutMs = 25000;  // SIGTERM: finish, ack and exit within this
  int64_t parallelism = 1;            // delivery pipelines per stream in one process
};

/// The most delivery pipelines one worker process runs per stream.
inline constexpr int64_t kMaxParallelism = 64;

struct PipelineConfig {
  std::string type;  // "logs" or "metrics"
  RedisSourceConfig redis;
  DeliveryConfig delivery;
  YAML::Node transform;  // parsed by the pipeline type
  YAML::Node sink;       // parsed by the pipeline type
  std::string consumerName;  // env SHOAL_CONSUMER_NAME, default hostname
};

}  // namespace shoal
