// The Pipeline custom resource (shoal.dev/v1alpha1): what to consume and where
// it goes. Field names match crds/ exactly. The operator reads only what it
// needs (source, secret references, deletion policy); the whole spec is kept
// as JSON because the worker's config file *is* the spec.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "shoal/stream/shards.h"
#include "shoal/api/meta.h"
#include "shoal/api/retention.h"

namespace shoal::api {

inline constexpr const char* kPipelineKind = "Pipeline";
inline constexpr const char* kPipelinePlural = "pipelines";

/// Deletion policies for the consumer group when a Pipeline is deleted.
inline constexpr const char* kRetainConsumerGroup = "Retain";
inline constexpr const char* kDeleteConsumerGroup = "DeleteConsumerGroup";
/// The finalizer the operator adds only when the consumer group is to be
/// deleted with the Pipeline.
inline constexpr const char* kConsumerGroupFinalizer = "shoal.dev/consumer-group";

struct RedisSource {
  std::string address;  // host:port, or a redis:// / rediss:// URL in `url`
  std::string url;
  int64_t db = 0;
  bool tls = false;     // tls.enabled
  bool tlsInsecureSkipVerify = false;
  std::string tlsServerName;
  SecretKeyRef usernameSecretRef;
  SecretKeyRef passwordSecretRef;
  SecretKeyRef tlsCaSecretRef;           // tls.caSecretRef (key default ca.crt)
  std::string tlsClientCertSecretName;   // tls.clientCertSecretRef.name (tls.crt, tls.key)
  std::string stream;
  std::string consumerGroup = "shoal";
  std::string startId = "$";
  int32_t shards = 1;    // > 1: the streams "<stream>:{0}".."<stream>:{shards-1}" (shoal/stream/shards.h)
  bool cluster = false;  // Redis Cluster: address/url name a seed node
  /// The streams this source reads (just `stream` when not sharded).
  std::vector<std::string> streams() const { return shardStreams(stream, shards); }
};

/// Secret references of the sink, whatever its kind (usernameSecretRef and
/// passwordSecretRef for basic auth, apiKeySecretRef, bearerTokenSecretRef,
/// postgres passwordSecretRef; also under basicAuth).
struct SinkCredentials {
  std::string kind;  // elasticsearch, prometheusRemoteWrite, pushgateway, postgres
  SecretKeyRef usernameSecretRef;
  SecretKeyRef passwordSecretRef;
  SecretKeyRef apiKeySecretRef;
  SecretKeyRef bearerTokenSecretRef;
  SecretKeyRef tlsCaSecretRef;  // tls.caSecretRef (key default ca.crt)
};

struct PipelineSpec {
  std::string type;  // logs | metrics
  RedisSource redis;
  SinkCredentials sink;
  std::string consumerGroupDeletionPolicy = kRetainConsumerGroup;
  /// spec.retention: unset means the operator never trims the stream.
  std::optional<RetentionSpec> retention;
  nlohmann::json raw = nlohmann::json::object();  // the spec as written (after defaults)
};

struct BacklogStatus {
  std::optional<int64_t> lag;      // nil when Redis cannot say (XDEL/trim, SETID)
  std::optional<int64_t> pending;  // delivered, not acknowledged
  std::optional<int64_t> total;    // lag + pending, only when both are known
  /// A sharded source: the shard count, and the shard with the largest
  /// backlog (one hot shard must show). All unset for one stream.
  std::optional<int32_t> shards;
  std::optional<std::string> hottestShard;
  std::optional<int64_t> hottestShardTotal;
  bool operator==(const BacklogStatus&) const = default;
};

/// One WorkerPool bound to a Pipeline, as status.pools lists it.
struct PoolSummary {
  std::string name;
  int32_t replicas = 0;
  int32_t readyReplicas = 0;
  bool ready = false;
  bool operator==(const PoolSummary&) const = default;
};

struct PipelineStatus {
  int64_t observedGeneration = 0;
  std::vector<Condition> conditions;
  BacklogStatus backlog;
  std::optional<double> arrivalRate;
  std::optional<double> consumptionRate;
  std::vector<PoolSummary> pools;  // WorkerPools bound to this Pipeline
  std::string sink;                // the sink kind, for the printer column
  std::optional<RetentionStatus> retention;  // only with spec.retention
};

struct Pipeline {
  ObjectMeta metadata;
  PipelineSpec spec;
  PipelineStatus status;
};

/// The connection fields of a `redis` section (url | address, db, tls,
/// credentials' Secret references, cluster) at `path` (for errors, e.g.
/// "spec.redis"); the stream fields are left at their defaults. A Pipeline's
/// source and a Receiver's target share them.
Result<RedisSource> redisConnectionFromJson(const nlohmann::json& redis, const std::string& path);
/// Parses a Pipeline object. Errors name the field ("spec.source.redis.stream").
Result<Pipeline> pipelineFromJson(const nlohmann::json& j);
nlohmann::json toJson(const PipelineStatus& s);
nlohmann::json toJson(const BacklogStatus& b);
/// status.backlog as written by toJson (missing numbers stay unknown).
BacklogStatus backlogFromJson(const nlohmann::json& j);
/// The full object (metadata, spec as raw, status).
nlohmann::json toJson(const Pipeline& p);

}  // namespace shoal::api
