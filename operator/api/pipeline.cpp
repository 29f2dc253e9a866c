// Pipeline: parsing from the API server's JSON (or a user's YAML converted to
// JSON) and status serialization.
#include "shoal/api/pipeline.h"

namespace shoal::api {

using nlohmann::json;

namespace {

SecretKeyRef secretRefAt(const json& j, const char* key, const char* defaultKey) {
  const json& r = objectAt(j, key);
  SecretKeyRef ref;
  ref.name = stringAt(r, "name");
  ref.key = stringAt(r, "key", ref.name.empty() ? "" : defaultKey);
  return ref;
}

}  // namespace

Result<RedisSource> redisConnectionFromJson(const json& redis, const std::string& path) {
  if (!redis.is_object()) return makeError(Errc::kInvalidInput, path + ": missing");
  RedisSource r;
  r.address = stringAt(redis, "address");
  r.url = stringAt(redis, "url");
  if (r.address.empty() && r.url.empty()) {
    return makeError(Errc::kInvalidInput, path + ".address: missing (or url)");
  }
  r.db = intAt(redis, "db", 0);
  const json& tls = objectAt(redis, "tls");
  r.tls = boolAt(tls, "enabled", false) || r.url.rfind("rediss://", 0) == 0;
  r.tlsInsecureSkipVerify = boolAt(tls, "insecureSkipVerify", false);
  r.tlsServerName = stringAt(tls, "serverName");
  r.tlsCaSecretRef = secretRefAt(tls, "caSecretRef", "ca.crt");
  r.tlsClientCertSecretName = stringAt(objectAt(tls, "clientCertSecretRef"), "name");
  r.usernameSecretRef = secretRefAt(redis, "usernameSecretRef", "username");
  r.passwordSecretRef = secretRefAt(redis, "passwordSecretRef", "password");
  r.cluster = boolAt(redis, "cluster", false);
  return r;
}

Result<Pipeline> pipelineFromJson(const json& j) {
  if (!j.is_object()) return makeError(Errc::kInvalidInput, "Pipeline: not an object");
  Pipeline p;
  p.metadata = metaFromJson(j);
  const json& spec = objectAt(j, "spec");
  if (!spec.is_object()) return makeError(Errc::kInvalidInput, "spec: missing");
  p.spec.raw = spec;
  p.spec.type = stringAt(spec, "type");
  if (p.spec.type != "logs" && p.spec.type != "metrics") {
    return makeError(Errc::kInvalidInput, "spec.type: must be logs or metrics");
  }
  const json& redis = objectAt(objectAt(spec, "source"), "redis");
  auto conn = redisConnectionFromJson(redis, "spec.source.redis");
  if (!conn.ok()) return conn.error();
  RedisSource& r = p.spec.redis;
  r = std::move(conn.value());
  r.stream = stringAt(redis, "stream");
  if (r.stream.empty()) return makeError(Errc::kInvalidInput, "spec.source.redis.stream: missing");
  r.consumerGroup = stringAt(redis, "consumerGroup", "shoal");
  r.startId = stringAt(redis, "startId", "$");
  if (auto n = optIntAt(redis, "shards")) {
    if (*n < 1 || *n > kMaxShards)
      return makeError(Errc::kInvalidInput,
                       "spec.source.redis.shards: must be between 1 and " + std::to_string(kMaxShards));
    r.shards = static_cast<int32_t>(*n);
  }

  const json& sink = objectAt(spec, "sink");
  for (const char* kind : {"elasticsearch", "prometheusRemoteWrite", "pushgateway", "postgres"}) {
    const json& s = objectAt(sink, kind);
    if (!s.is_object()) continue;
    p.spec.sink.kind = kind;
    p.spec.sink.usernameSecretRef = secretRefAt(s, "usernameSecretRef", "username");
    if (p.spec.sink.usernameSecretRef.empty()) {
      p.spec.sink.usernameSecretRef =
          secretRefAt(objectAt(s, "basicAuth"), "usernameSecretRef", "username");
    }
    p.spec.sink.passwordSecretRef = secretRefAt(s, "passwordSecretRef", "password");
    if (p.spec.sink.passwordSecretRef.empty()) {
      p.spec.sink.passwordSecretRef =
          secretRefAt(objectAt(s, "basicAuth"), "passwordSecretRef", "password");
    }
    p.spec.sink.apiKeySecretRef = secretRefAt(s, "apiKeySecretRef", "apiKey");
    p.spec.sink.bearerTokenSecretRef = secretRefAt(s, "bearerTokenSecretRef", "token");
    p.spec.sink.tlsCaSecretRef = secretRefAt(objectAt(s, "tls"), "caSecretRef", "ca.crt");
    break;
  }
  p.spec.consumerGroupDeletionPolicy =
      stringAt(spec, "consumerGroupDeletionPolicy", kRetainConsumerGroup);
  if (auto it = spec.find("retention"); it != spec.end() && !it->is_null()) {
    auto r = retentionFromJson(*it);
    if (!r.ok()) return r.error();
    p.spec.retention = std::move(r.value());
  }

  const json& st = objectAt(j, "status");
  p.status.observedGeneration = intAt(st, "observedGeneration", 0);
  if (st.is_object() && st.contains("conditions")) {
    p.status.conditions = conditionsFromJson(st["conditions"]);
  }
  p.status.backlog = backlogFromJson(objectAt(st, "backlog"));
  p.status.arrivalRate = optNumberAt(st, "arrivalRate");
  p.status.consumptionRate = optNumberAt(st, "consumptionRate");
  p.status.sink = stringAt(st, "sink");
  if (const json& rs = objectAt(st, "retention"); rs.is_object()) p.status.retention = retentionStatusFromJson(rs);
  if (st.is_object() && st.contains("pools") && st["pools"].is_array()) {
    for (const auto& n : st["pools"]) {
      PoolSummary ps;
      ps.name = stringAt(n, "name");
      ps.replicas = static_cast<int32_t>(intAt(n, "replicas", 0));
      ps.readyReplicas = static_cast<int32_t>(intAt(n, "readyReplicas", 0));
      ps.ready = boolAt(n, "ready", false);
      if (!ps.name.empty()) p.status.pools.push_back(ps);
    }
  }
  return p;
}

BacklogStatus backlogFromJson(const json& j) {
  BacklogStatus b;
  b.lag = optIntAt(j, "lag");
  b.pending = optIntAt(j, "pending");
  b.total = optIntAt(j, "total");
  if (auto n = optIntAt(j, "shards")) b.shards = static_cast<int32_t>(*n);
  const json& hot = objectAt(j, "hottestShard");
  if (hot.is_object()) {
    b.hottestShard = stringAt(hot, "stream");
    b.hottestShardTotal = optIntAt(hot, "total");
  }
  return b;
}

json toJson(const BacklogStatus& b) {
  // An unmeasured number is written as null, never left out: status goes to
  // the API server as a merge patch, where a member left out keeps its old
  // value and a stale backlog would be shown as if it were current.
  auto intOrNull = [](const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); };
  json j{{"lag", intOrNull(b.lag)}, {"pending", intOrNull(b.pending)}, {"total", intOrNull(b.total)}};
  if (b.shards) {
    j["shards"] = *b.shards;
    j["hottestShard"] = b.hottestShard ? json{{"stream", *b.hottestShard}, {"total", intOrNull(b.hottestShardTotal)}}
                                       : json(nullptr);
  }
  return j;
}

json toJson(const PipelineStatus& s) {
  json j = json::object();
  j["observedGeneration"] = s.observedGeneration;
  j["conditions"] = toJson(s.conditions);
  j["backlog"] = toJson(s.backlog);
  j["arrivalRate"] = numberOrNull(s.arrivalRate);
  j["consumptionRate"] = numberOrNull(s.consumptionRate);
  j["pools"] = json::array();
  for (const auto& p : s.pools) {
    j["pools"].push_back(json{{"name", p.name},
                              {"replicas", p.replicas},
                              {"readyReplicas", p.readyReplicas},
                              {"ready", p.ready}});
  }
  j["sink"] = s.sink;
  j["retention"] = s.retention ? toJson(*s.retention) : json(nullptr);
  // Unknown rates are written as null: in a merge patch that removes a stale
  // value instead of leaving an old number behind.
  return j;
}

json toJson(const Pipeline& p) {
  json j{{"apiVersion", kApiVersion}, {"kind", kPipelineKind}};
  j["metadata"] = toJson(p.metadata);
  j["spec"] = p.spec.raw;
  j["status"] = toJson(p.status);
  return j;
}

}  // namespace shoal::api
