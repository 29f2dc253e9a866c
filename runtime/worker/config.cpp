// Loading the worker's PipelineConfig from a Pipeline spec (YAML) plus
// environment overrides; every problem is a ConfigError naming the field.
#include "shoal/worker/config.h"

#include <unistd.h>

#include <algorithm>

#include "shoal/redis/source_config.h"
#include "shoal/stream/config_fields.h"
#include "shoal/stream/shards.h"

namespace shoal {
namespace {

using config::boolField;
using config::checkKeys;
using config::envOr;
using config::intField;
using config::stringField;

void parseRedis(const YAML::Node& n, RedisSourceConfig& r, const std::string& path) {
  config::Keys known = redis::kConnectionKeys;
  known.insert({"stream", "consumerGroup", "startId", "deadLetterStream", "maxDeliveries", "claimMinIdleMs",
                "claimIntervalMs", "blockMs", "shards"});
  checkKeys(n, path, known, redis::kSecretRefKeys);
  redis::parseConnectionFields(n, r, path);
  r.stream = stringField(n, "stream", path, "");
  if (r.stream.empty()) throw ConfigError(path + ".stream", "required");
  r.consumerGroup = stringField(n, "consumerGroup", path, r.consumerGroup);
  if (r.consumerGroup.empty()) throw ConfigError(path + ".consumerGroup", "must not be empty");
  r.startId = stringField(n, "startId", path, r.startId);
  if (r.startId.empty()) throw ConfigError(path + ".startId", "must not be empty");
  r.deadLetterStream = stringField(n, "deadLetterStream", path, r.stream + ":dead");
  if (r.deadLetterStream == r.stream)
    throw ConfigError(path + ".deadLetterStream", "must differ from the source stream");
  r.maxDeliveries = intField(n, "maxDeliveries", path, r.maxDeliveries, 1);
  r.claimMinIdleMs = intField(n, "claimMinIdleMs", path, r.claimMinIdleMs, 1);
  r.claimIntervalMs = intField(n, "claimIntervalMs", path, r.claimIntervalMs, 0);
  r.blockMs = intField(n, "blockMs", path, r.blockMs, 0, 60000);
  r.shards = static_cast<int32_t>(intField(n, "shards", path, r.shards, 1, kMaxShards));
}

void parseDelivery(const YAML::Node& n, DeliveryConfig& d, const std::string& path) {
  checkKeys(n, path,
            {"batchSize", "batchBytes", "lingerMs", "retryInitialMs", "retryMaxMs", "maxEntryBytes",
             "shutdownTimeoutMs", "parallelism"});
  d.batchSize = intField(n, "batchSize", path, d.batchSize, 1, 100000);
  d.batchBytes = intField(n, "batchBytes", path, d.batchBytes, 1);
  d.lingerMs = intField(n, "lingerMs", path, d.lingerMs, 0, 60000);
  d.retryInitialMs = intField(n, "retryInitialMs", path, d.retryInitialMs, 1);
  d.retryMaxMs = intField(n, "retryMaxMs", path, d.retryMaxMs, 1);
  if (d.retryMaxMs < d.retryInitialMs)
    throw ConfigError(path + ".retryMaxMs", "must be at least retryInitialMs");
  d.maxEntryBytes = intField(n, "maxEntryBytes", path, d.maxEntryBytes, 1);
  d.shutdownTimeoutMs = intField(n, "shutdownTimeoutMs", path, d.shutdownTimeoutMs, 1);
  d.parallelism = intField(n, "parallelism", path, d.parallelism, 1, kMaxParallelism);
}

}  // namespace

PipelineConfig loadPipelineConfig(const YAML::Node& doc, const std::map<std::string, std::string>& env) {
  if (!doc || !doc.IsMap()) throw ConfigError("spec", "the config must be a YAML mapping (a Pipeline or its spec)");
  YAML::Node spec = doc["spec"] ? doc["spec"] : doc;
  const std::string sp = "spec";
  if (!spec.IsMap()) throw ConfigError(sp, "must be a mapping");
  // Fields only the operator acts on are accepted and left to it.
  checkKeys(spec, sp, {"type", "source", "transform", "sink", "delivery"}, {"consumerGroupDeletionPolicy", "retention"});
  PipelineConfig c;
  c.type = stringField(spec, "type", sp, "");
  if (c.type.empty()) throw ConfigError(sp + ".type", "required (logs or metrics)");
  if (c.type != "logs" && c.type != "metrics")
    throw ConfigError(sp + ".type", "must be logs or metrics, got '" + c.type + "'");
  YAML::Node source = spec["source"];
  if (!source || source.IsNull()) throw ConfigError(sp + ".source", "required");
  checkKeys(source, sp + ".source", {"redis"});
  YAML::Node redisNode = source["redis"];
  if (!redisNode || redisNode.IsNull()) throw ConfigError(sp + ".source.redis", "required");
  const bool specHasServer = redis::namesServer(redisNode);
  parseRedis(redisNode, c.redis, sp + ".source.redis");
  if (YAML::Node d = spec["delivery"]; d && !d.IsNull()) parseDelivery(d, c.delivery, sp + ".delivery");
  if (spec["transform"]) c.transform = YAML::Clone(spec["transform"]);
  if (spec["sink"]) c.sink = YAML::Clone(spec["sink"]);

  // Environment overrides: the server URL, secrets, per-pod values.
  redis::applyConnectionEnv(c.redis, env, specHasServer, sp + ".source.redis.url");
  c.consumerName = envOr(env, "SHOAL_CONSUMER_NAME");
  if (c.consumerName.empty()) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) c.consumerName = host;
    if (c.consumerName.empty()) c.consumerName = "shoal-worker";
  }
  return c;
}

PipelineConfig loadPipelineConfigFile(const std::string& path, const std::map<std::string, std::string>& env) {
  return config::loadFile(path, [&](const YAML::Node& doc) { return loadPipelineConfig(doc, env); });
}

std::vector<PipelineConfig> deliveryPipelines(const PipelineConfig& config) {
  std::vector<PipelineConfig> out;
  const std::vector<std::string> streams = shardStreams(config.redis.stream, config.redis.shards);
  const int64_t n = std::max<int64_t>(1, config.delivery.parallelism);
  out.reserve(streams.size() * static_cast<size_t>(n));
  for (int32_t shard = 0; shard < static_cast<int32_t>(streams.size()); ++shard) {
    for (int64_t i = 0; i < n; ++i) {
      PipelineConfig& c = out.emplace_back(config);
      c.redis.stream = streams[static_cast<size_t>(shard)];
      c.redis.deadLetterStream = shardDeadLetterStream(config.redis.stream, config.redis.deadLetterStream,
                                                       config.redis.shards, shard);
      if (n > 1) c.consumerName = config.consumerName + "-" + std::to_string(i);
    }
  }
  return out;
}

std::map<std::string, std::string> processEnv() { return config::processEnv(); }

}  // namespace shoal
