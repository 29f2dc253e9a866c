// Loading the receiver's configuration. See config.h.
#include "shoal/receiver/config.h"

#include "shoal/redis/source_config.h"
#include "shoal/stream/config_fields.h"
#include "shoal/stream/shards.h"

namespace shoal::receiver {
namespace {

using config::checkKeys;
using config::envOr;
using config::intField;
using config::stringField;

bool present(const YAML::Node& parent, const std::string& key) {
  const YAML::Node n = parent[key];
  return n && !n.IsNull();
}

RouteConfig parseRoute(const YAML::Node& routes, const std::string& key, const std::string& path) {
  RouteConfig r;
  if (!present(routes, key)) return r;
  const std::string p = path + "." + key;
  const YAML::Node n = routes[key];
  checkKeys(n, p, {"stream", "shards", "shardKey", "streamFromField"});
  if (present(n, "streamFromField")) throw ConfigError(p + ".streamFromField", "not supported yet by shoal-receiver");
  r.enabled = true;
  r.stream = config::requiredString(n, "stream", p);
  if (r.stream.empty()) throw ConfigError(p + ".stream", "must not be empty");
  r.shards = static_cast<int32_t>(intField(n, "shards", p, 1, 1, kMaxShards));
  r.shardKey = stringField(n, "shardKey", p, "");
  return r;
}

void parseHttp(const YAML::Node& n, ReceiverConfig& c, const std::string& path) {
  checkKeys(n, path, {"port", "maxBodyBytes", "routes", "auth"}, {"tlsSecretName"});
  c.httpPort = static_cast<int>(intField(n, "port", path, 0, 0, 65535));
  c.maxBodyBytes = intField(n, "maxBodyBytes", path, c.maxBodyBytes, 1, int64_t{1} << 32);
  if (present(n, "routes")) {
    const std::string rp = path + ".routes";
    const YAML::Node routes = n["routes"];
    checkKeys(routes, rp, {"logs", "metrics", "bulk", "remoteWrite"});
    c.logs = parseRoute(routes, "logs", rp);
    c.metrics = parseRoute(routes, "metrics", rp);
    c.bulk = parseRoute(routes, "bulk", rp);
    c.remoteWrite = parseRoute(routes, "remoteWrite", rp);
  }
  if (present(n, "auth")) {
    const std::string ap = path + ".auth";
    checkKeys(n["auth"], ap, {}, {"bearerTokenSecretRef", "basic"});
    if (present(n["auth"], "bearerTokenSecretRef") && present(n["auth"], "basic"))
      throw ConfigError(ap, "set one of bearerTokenSecretRef or basic");
  }
}

}  // namespace

ReceiverConfig loadReceiverConfig(const YAML::Node& doc, const std::map<std::string, std::string>& env) {
  if (!doc || !doc.IsMap()) throw ConfigError("spec", "the config must be a YAML mapping (a Receiver or its spec)");
  const YAML::Node spec = doc["spec"] ? doc["spec"] : doc;
  const std::string sp = "spec";
  checkKeys(spec, sp, {"redis", "http", "syslog", "limits", "backpressure", "durability", "metricsPort"},
            {"replicas", "image"});
  ReceiverConfig c;

  const YAML::Node redisNode = spec["redis"];
  if (!redisNode || redisNode.IsNull()) throw ConfigError(sp + ".redis", "required");
  checkKeys(redisNode, sp + ".redis", redis::kConnectionKeys, redis::kSecretRefKeys);
  redis::parseConnectionFields(redisNode, c.redis, sp + ".redis");
  redis::applyConnectionEnv(c.redis, env, redis::namesServer(redisNode), sp + ".redis.url");

  if (present(spec, "http")) parseHttp(spec["http"], c, sp + ".http");
  if (present(spec, "syslog")) c.syslog = YAML::Clone(spec["syslog"]);
  if (c.httpPort == 0 && !present(spec, "syslog")) throw ConfigError(sp + ".http.port", "required: nothing to listen on");
  if (c.httpPort != 0 && !c.logs.enabled && !c.metrics.enabled && !c.bulk.enabled &&
      !c.remoteWrite.enabled)
    throw ConfigError(sp + ".http.routes", "at least one route is required when http.port is set");

  if (present(spec, "limits")) {
    const std::string lp = sp + ".limits";
    const YAML::Node n = spec["limits"];
    checkKeys(n, lp, {"maxEntryBytes", "maxConnections", "readTimeoutSeconds", "idleTimeoutSeconds"});
    c.maxEntryBytes = intField(n, "maxEntryBytes", lp, c.maxEntryBytes, 1, 512 << 20);
    c.maxConnections = intField(n, "maxConnections", lp, c.maxConnections, 1, 65536);
    c.readTimeoutSeconds = intField(n, "readTimeoutSeconds", lp, c.readTimeoutSeconds, 1, 3600);
    c.idleTimeoutSeconds = intField(n, "idleTimeoutSeconds", lp, c.idleTimeoutSeconds, 1, 3600);
  }
  if (present(spec, "backpressure")) {
    const std::string bp = sp + ".backpressure";
    const YAML::Node n = spec["backpressure"];
    checkKeys(n, bp, {"maxBacklog", "maxLength", "retryAfterSeconds", "checkIntervalMilliseconds"});
    c.maxBacklog = intField(n, "maxBacklog", bp, c.maxBacklog, 0);
    c.maxLength = intField(n, "maxLength", bp, c.maxLength, 0);
    c.retryAfterSeconds = intField(n, "retryAfterSeconds", bp, c.retryAfterSeconds, 1, 3600);
    c.checkIntervalMilliseconds =
        intField(n, "checkIntervalMilliseconds", bp, c.checkIntervalMilliseconds, 10, 600000);
  }
  if (present(spec, "durability")) {
    const std::string dp = sp + ".durability";
    const YAML::Node n = spec["durability"];
    checkKeys(n, dp, {"waitReplicas", "waitTimeoutMilliseconds"});
    c.waitReplicas = intField(n, "waitReplicas", dp, c.waitReplicas, 0, 100);
    c.waitTimeoutMilliseconds = intField(n, "waitTimeoutMilliseconds", dp, c.waitTimeoutMilliseconds, 1, 60000);
  }
  c.metricsPort = static_cast<int>(intField(spec, "metricsPort", sp, c.metricsPort, 0, 65535));
  if (c.metricsPort != 0 && c.metricsPort == c.httpPort)
    throw ConfigError(sp + ".metricsPort", "must differ from http.port");

  c.bearerToken = envOr(env, "SHOAL_RECEIVER_BEARER_TOKEN");
  c.username = envOr(env, "SHOAL_RECEIVER_USERNAME");
  c.password = envOr(env, "SHOAL_RECEIVER_PASSWORD");
  if (!c.bearerToken.empty() && !c.username.empty())
    throw ConfigError("env SHOAL_RECEIVER_BEARER_TOKEN", "set a bearer token or basic credentials, not both");
  if (c.username.empty() != c.password.empty())
    throw ConfigError("env SHOAL_RECEIVER_USERNAME", "basic credentials need both SHOAL_RECEIVER_USERNAME and "
                                                      "SHOAL_RECEIVER_PASSWORD");
  if (present(spec, "http") && present(spec["http"], "auth") && c.bearerToken.empty() && c.username.empty())
    throw ConfigError(sp + ".http.auth",
                      "set, but no credentials in the environment (SHOAL_RECEIVER_BEARER_TOKEN, or "
                      "SHOAL_RECEIVER_USERNAME and SHOAL_RECEIVER_PASSWORD)");
  c.tlsCertFile = envOr(env, "SHOAL_RECEIVER_TLS_CERT_FILE");
  c.tlsKeyFile = envOr(env, "SHOAL_RECEIVER_TLS_KEY_FILE");
  if (c.tlsCertFile.empty() != c.tlsKeyFile.empty())
    throw ConfigError("env SHOAL_RECEIVER_TLS_CERT_FILE", "TLS needs both SHOAL_RECEIVER_TLS_CERT_FILE and "
                                                          "SHOAL_RECEIVER_TLS_KEY_FILE");
  return c;
}

ReceiverConfig loadReceiverConfigFile(const std::string& path, const std::map<std::string, std::string>& env) {
  return config::loadFile(path, [&](const YAML::Node& doc) { return loadReceiverConfig(doc, env); });
}

}  // namespace shoal::receiver
