// Loading the worker's configuration: one YAML file in the shape of a
// Pipeline's `spec` (so the operator mounts the same thing as a ConfigMap),
// plus environment overrides for secrets and per-pod values. The types are
// the stream module's (shoal/stream/pipeline_config.h).
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

#include "shoal/stream/pipeline_config.h"

namespace shoal {

/// Parses a Pipeline spec (the document may be a whole Pipeline object with
/// `spec:`, or the spec itself), then applies environment overrides:
/// SHOAL_REDIS_URL, SHOAL_REDIS_USERNAME, SHOAL_REDIS_PASSWORD,
/// SHOAL_REDIS_PASSWORD_FILE, SHOAL_CONSUMER_NAME. Throws ConfigError.
PipelineConfig loadPipelineConfig(const YAML::Node& doc,
                                  const std::map<std::string, std::string>& env);
PipelineConfig loadPipelineConfigFile(const std::string& path,
                                      const std::map<std::string, std::string>& env);
/// The delivery pipelines one shoal-worker process runs for `config`: for
/// each shard stream (one for an unsharded source), delivery.parallelism
/// pipelines. Each gets its shard's stream and dead-letter stream and its own
/// consumer name in the group: the configured name when parallelism is 1
/// (so a worker keeps its pending list across restarts), "<name>-<i>" for
/// pipeline i of N > 1 (the same names on every shard stream: a name is
/// unique within one stream's group).
std::vector<PipelineConfig> deliveryPipelines(const PipelineConfig& config);

/// The process environment as a map.
std::map<std::string, std::string> processEnv();

}  // namespace shoal
