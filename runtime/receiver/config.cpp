// Loading the receiver's configuration. See config.h.
#include "shoal/receiver/config.h"

#include "shoal/redis/source_config.h"
#include "shoal/stream/config_fields.h"
#include "shoal/stream/shards.h"
#include "shoal/syslog_input/facility.h"

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

// streamFromField: {field, streams: {value: stream}}. On the bulk route the
// field defaults to `_index` (the item's index).
StreamFromField parseStreamFromField(const YAML::Node& n, const std::string& p, bool bulk) {
  if (!n.IsMap()) throw ConfigError(p, "must be a mapping with field and streams");
  checkKeys(n, p, {"field", "streams"});
  StreamFromField f;
  f.field = bulk ? stringField(n, "field", p, "_index") : config::requiredString(n, "field", p);
  if (f.field.empty()) throw ConfigError(p + ".field", "must not be empty");
  const YAML::Node streams = n["streams"];
  if (!streams || streams.IsNull()) throw ConfigError(p + ".streams", "required: a mapping of field value to stream");
  if (!streams.IsMap()) throw ConfigError(p + ".streams", "must be a mapping of field value to stream");
  if (streams.size() == 0) throw ConfigError(p + ".streams", "must list at least one value");
  if (streams.size() > kMaxStreamsFromField)
    throw ConfigError(p + ".streams", "lists " + std::to_string(streams.size()) + " values, at most " +
                                          std::to_string(kMaxStreamsFromField) + " are allowed");
  for (const auto& kv : streams) {
    const std::string value = kv.first.as<std::string>();
    if (!kv.second.IsScalar() || kv.second.Scalar().empty())
      throw ConfigError(p + ".streams." + value, "must name a stream");
    f.streams[value] = kv.second.Scalar();
  }
  return f;
}

RouteConfig parseRoute(const YAML::Node& routes, const std::string& key, const std::string& path) {
  RouteConfig r;
  if (!present(routes, key)) return r;
  const std::string p = path + "." + key;
  const YAML::Node n = routes[key];
  checkKeys(n, p, {"stream", "shards", "shardKey", "streamFromField"});
  r.enabled = true;
  r.stream = config::requiredString(n, "stream", p);
  if (r.stream.empty()) throw ConfigError(p + ".stream", "must not be empty");
  r.shards = static_cast<int32_t>(intField(n, "shards", p, 1, 1, kMaxShards));
  r.shardKey = stringField(n, "shardKey", p, "");
  if (present(n, "streamFromField")) {
    if (r.shards > 1)
      throw ConfigError(p + ".streamFromField", "cannot be combined with shards > 1 (the field picks the stream)");
    r.fromField = parseStreamFromField(n["streamFromField"], p + ".streamFromField", key == "bulk");
  }
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


void parseSyslog(const YAML::Node& n, ReceiverConfig& c, const std::string& path) {
  checkKeys(n, path, {"tcp", "udp", "tls", "route"});
  auto port = [&](const char* key, const config::Keys& optional) {
    if (!present(n, key)) return 0;
    const std::string p = path + "." + key;
    checkKeys(n[key], p, {"port"}, optional);
    return static_cast<int>(intField(n[key], "port", p, 0, 0, 65535));
  };
  c.syslogListeners.tcpPort = port("tcp", {});
  c.syslogListeners.udpPort = port("udp", {});
  c.syslogListeners.tlsPort = port("tls", {"secretName"});
  if (!c.syslogListeners.any()) return;
  const std::string rp = path + ".route";
  if (!present(n, "route")) throw ConfigError(rp, "required: the stream syslog messages go to");
  const YAML::Node route = n["route"];
  checkKeys(route, rp, {"stream", "byFacility"});
  c.syslogListeners.stream = config::requiredString(route, "stream", rp);
  if (c.syslogListeners.stream.empty()) throw ConfigError(rp + ".stream", "must not be empty");
  if (present(route, "byFacility")) {
    const YAML::Node by = route["byFacility"];
    if (!by.IsMap()) throw ConfigError(rp + ".byFacility", "must be a mapping of facility name to stream");
    for (const auto& kv : by) {
      const std::string facility = kv.first.as<std::string>();
      if (!kv.second.IsScalar() || kv.second.as<std::string>().empty())
        throw ConfigError(rp + ".byFacility." + facility, "must name a stream");
      c.syslogListeners.byFacility[facility] = kv.second.as<std::string>();
    }
  }
  if (auto routes = syslog_input::FacilityRoutes::make(c.syslogListeners.stream, c.syslogListeners.byFacility); !routes)
    throw ConfigError(rp + ".byFacility", routes.error().message);
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
  if (present(spec, "syslog")) {
    c.syslog = YAML::Clone(spec["syslog"]);
    parseSyslog(spec["syslog"], c, sp + ".syslog");
  }
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
  if (c.syslogListeners.tlsPort != 0 && c.tlsCertFile.empty())
    throw ConfigError(sp + ".syslog.tls", "needs SHOAL_RECEIVER_TLS_CERT_FILE and SHOAL_RECEIVER_TLS_KEY_FILE");
  return c;
}

ReceiverConfig loadReceiverConfigFile(const std::string& path, const std::map<std::string, std::string>& env) {
  return config::loadFile(path, [&](const YAML::Node& doc) { return loadReceiverConfig(doc, env); });
}

}  // namespace shoal::receiver
