// Configuration of the metrics sinks (spec.sink.<kind>) and small YAML
// helpers that throw ConfigError naming the field ("spec.sink.postgres.conninfo: required").
//
// spec.sink.prometheusRemoteWrite:
//   url: http://prometheus:9090/api/v1/write   # required
//   maxSamplesPerRequest: 2000
//   shards: 2                  # parallel senders; a series always maps to one shard
//   timeoutMs: 10000
//   retryInitialMs: 30         # backoff for 5xx, 429 and connection errors
//   retryMaxMs: 5000
//   headers: {X-Scope-OrgID: team-a}
// spec.sink.pushgateway:
//   url: http://pushgateway:9091   # required
//   job: batch-metrics             # required
//   method: POST                   # POST (replace same-named metrics of the group) or PUT (replace the whole group)
//   grouping: {env: prod}          # static grouping labels
//   groupingLabels: [instance]     # event labels that become part of the grouping key
//   timeoutMs, retryInitialMs, retryMaxMs as above
// spec.sink.postgres:
//   conninfo: "host=db port=5432 dbname=metrics user=shoal"   # required; password from env SHOAL_SINK_PASSWORD
//   windowSeconds: 60
//   table: shoal_metric_aggregates
//   processedTable: shoal_processed_entries
//   retryInitialMs: 100, retryMaxMs: 5000
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "shoal/stream/pipeline_config.h"

namespace shoal::metrics {

struct RemoteWriteConfig {
  std::string url;
  size_t maxSamplesPerRequest = 2000;
  int shards = 2;
  std::chrono::milliseconds timeout{10000};
  std::chrono::milliseconds retryInitial{30};
  std::chrono::milliseconds retryMax{5000};
  std::map<std::string, std::string> headers;
};

struct PushgatewayConfig {
  std::string url;
  std::string job;
  bool put = false;  // PUT replaces the group; POST only same-named metrics
  std::map<std::string, std::string> grouping;
  std::vector<std::string> groupingLabels;
  std::chrono::milliseconds timeout{10000};
  std::chrono::milliseconds retryInitial{30};
  std::chrono::milliseconds retryMax{5000};
};

struct PostgresConfig {
  std::string conninfo;
  std::string password;  // from env SHOAL_SINK_PASSWORD, never from the spec
  int64_t windowSeconds = 60;
  std::string table = "shoal_metric_aggregates";
  std::string processedTable = "shoal_processed_entries";
  std::string stream;         // from spec.source.redis
  std::string consumerGroup;  // from spec.source.redis
  std::chrono::milliseconds retryInitial{100};
  std::chrono::milliseconds retryMax{5000};
};

RemoteWriteConfig parseRemoteWriteConfig(const YAML::Node& n, const std::string& path);
PushgatewayConfig parsePushgatewayConfig(const YAML::Node& n, const std::string& path);
PostgresConfig parsePostgresConfig(const YAML::Node& n, const std::string& path);

// YAML helpers: `m[key]` at `path.key`, default when absent.
}  // namespace shoal::metrics
