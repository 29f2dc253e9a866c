// Loading the worker's PipelineConfig from a Pipeline spec (YAML) plus
// environment overrides; every problem is a ConfigError naming the field.
#include "shoal/worker/config.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "shoal/redis/client.h"
#include "shoal/stream/config_fields.h"
#include "shoal/stream/shards.h"

extern char** environ;

namespace shoal {
namespace {

using config::boolField;
using config::checkKeys;
using config::envOr;
using config::intField;
using config::parseInt;
using config::stringField;

void applyUrl(RedisSourceConfig& r, const std::string& url, const std::string& field, bool allowSecrets) {
  auto parsed = redis::parseUrl(url);
  if (!parsed) throw ConfigError(field, parsed.error().message);
  if (!allowSecrets && (!parsed->password.empty() || !parsed->username.empty()))
    throw ConfigError(field,
                      "must not contain credentials; use SHOAL_REDIS_USERNAME and SHOAL_REDIS_PASSWORD "
                      "or SHOAL_REDIS_PASSWORD_FILE");
  r.host = parsed->host;
  r.port = parsed->port;
  r.db = parsed->db;
  if (parsed->tls.enabled) r.tls.enabled = true;
  if (!parsed->username.empty()) r.username = parsed->username;
  if (!parsed->password.empty()) r.password = parsed->password;
}

void parseRedis(const YAML::Node& n, RedisSourceConfig& r, const std::string& path) {
  checkKeys(n, path,
            {"url", "address", "db", "username", "tls", "stream", "consumerGroup", "startId",
             "deadLetterStream", "maxDeliveries", "claimMinIdleMs", "claimIntervalMs", "connectTimeoutMs",
             "readTimeoutMs", "blockMs", "password", "shards", "cluster"},
            {"usernameSecretRef", "passwordSecretRef"});
  if (n["password"])
    throw ConfigError(path + ".password",
                      "secrets are not read from the spec; use SHOAL_REDIS_PASSWORD or SHOAL_REDIS_PASSWORD_FILE");
  const bool hasUrl = n["url"] && !n["url"].IsNull();
  const bool hasAddress = n["address"] && !n["address"].IsNull();
  if (hasUrl && hasAddress) throw ConfigError(path + ".url", "set exactly one of url or address");
  if (hasUrl) applyUrl(r, stringField(n, "url", path, ""), path + ".url", false);
  if (hasAddress) {
    std::string a = stringField(n, "address", path, "");
    auto colon = a.rfind(':');
    if (colon == std::string::npos || colon == 0)
      throw ConfigError(path + ".address", "must be host:port, got '" + a + "'");
    r.host = a.substr(0, colon);
    if (r.host.size() > 2 && r.host.front() == '[' && r.host.back() == ']') r.host = r.host.substr(1, r.host.size() - 2);
    int64_t port = parseInt(a.substr(colon + 1), path + ".address");
    if (port < 1 || port > 65535) throw ConfigError(path + ".address", "port must be 1..65535");
    r.port = static_cast<int>(port);
  }
  if (n["db"]) r.db = static_cast<int>(intField(n, "db", path, r.db, 0, 1 << 20));
  r.username = stringField(n, "username", path, r.username);
  if (YAML::Node t = n["tls"]; t && !t.IsNull()) {
    const std::string tp = path + ".tls";
    checkKeys(t, tp, {"enabled", "caFile", "certFile", "keyFile", "serverName", "insecureSkipVerify"},
              {"caSecretRef", "clientCertSecretRef"});
    r.tls.enabled = boolField(t, "enabled", tp, r.tls.enabled);
    r.tls.caFile = stringField(t, "caFile", tp, "");
    r.tls.certFile = stringField(t, "certFile", tp, "");
    r.tls.keyFile = stringField(t, "keyFile", tp, "");
    r.tls.serverName = stringField(t, "serverName", tp, "");
    r.tls.insecureSkipVerify = boolField(t, "insecureSkipVerify", tp, false);
    if (!r.tls.keyFile.empty() && r.tls.certFile.empty())
      throw ConfigError(tp + ".certFile", "required when keyFile is set");
  }
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
  r.connectTimeoutMs = intField(n, "connectTimeoutMs", path, r.connectTimeoutMs, 1);
  r.readTimeoutMs = intField(n, "readTimeoutMs", path, r.readTimeoutMs, 1);
  r.blockMs = intField(n, "blockMs", path, r.blockMs, 0, 60000);
  r.shards = static_cast<int32_t>(intField(n, "shards", path, r.shards, 1, kMaxShards));
  r.cluster = boolField(n, "cluster", path, r.cluster);
  if (r.cluster && r.db != 0) throw ConfigError(path + ".db", "must be 0 on a Redis Cluster");
}

void parseDelivery(const YAML::Node& n, DeliveryConfig& d, const std::string& path) {
  checkKeys(n, path,
            {"batchSize", "batchBytes", "lingerMs", "retryInitialMs", "retryMaxMs", "maxEntryBytes",
             "shutdownTimeoutMs"});
  d.batchSize = intField(n, "batchSize", path, d.batchSize, 1, 100000);
  d.batchBytes = intField(n, "batchBytes", path, d.batchBytes, 1);
  d.lingerMs = intField(n, "lingerMs", path, d.lingerMs, 0, 60000);
  d.retryInitialMs = intField(n, "retryInitialMs", path, d.retryInitialMs, 1);
  d.retryMaxMs = intField(n, "retryMaxMs", path, d.retryMaxMs, 1);
  if (d.retryMaxMs < d.retryInitialMs)
    throw ConfigError(path + ".retryMaxMs", "must be at least retryInitialMs");
  d.maxEntryBytes = intField(n, "maxEntryBytes", path, d.maxEntryBytes, 1);
  d.shutdownTimeoutMs = intField(n, "shutdownTimeoutMs", path, d.shutdownTimeoutMs, 1);
}

std::string readSecretFile(const std::string& path, const std::string& field) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw ConfigError(field, "cannot read '" + path + "': " + std::strerror(errno));
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
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
  const bool specHasServer = (redisNode.IsMap() && (redisNode["url"] || redisNode["address"]));
  parseRedis(redisNode, c.redis, sp + ".source.redis");
  if (YAML::Node d = spec["delivery"]; d && !d.IsNull()) parseDelivery(d, c.delivery, sp + ".delivery");
  if (spec["transform"]) c.transform = YAML::Clone(spec["transform"]);
  if (spec["sink"]) c.sink = YAML::Clone(spec["sink"]);

  // Environment overrides: the server URL, secrets, per-pod values.
  if (auto url = envOr(env, "SHOAL_REDIS_URL"); !url.empty()) {
    applyUrl(c.redis, url, "env SHOAL_REDIS_URL", true);
  } else if (!specHasServer) {
    throw ConfigError(sp + ".source.redis.url", "required: set url or address (or env SHOAL_REDIS_URL)");
  }
  if (auto u = envOr(env, "SHOAL_REDIS_USERNAME"); !u.empty()) c.redis.username = u;
  if (auto p = envOr(env, "SHOAL_REDIS_PASSWORD"); !p.empty()) c.redis.password = p;
  if (auto pf = envOr(env, "SHOAL_REDIS_PASSWORD_FILE"); !pf.empty())
    c.redis.password = readSecretFile(pf, "env SHOAL_REDIS_PASSWORD_FILE");
  if (auto f = envOr(env, "SHOAL_REDIS_TLS_CA_FILE"); !f.empty()) c.redis.tls.caFile = f;
  if (auto f = envOr(env, "SHOAL_REDIS_TLS_CERT_FILE"); !f.empty()) c.redis.tls.certFile = f;
  if (auto f = envOr(env, "SHOAL_REDIS_TLS_KEY_FILE"); !f.empty()) c.redis.tls.keyFile = f;
  c.consumerName = envOr(env, "SHOAL_CONSUMER_NAME");
  if (c.consumerName.empty()) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0) c.consumerName = host;
    if (c.consumerName.empty()) c.consumerName = "shoal-worker";
  }
  return c;
}

PipelineConfig loadPipelineConfigFile(const std::string& path, const std::map<std::string, std::string>& env) {
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw ConfigError("--config", "cannot read '" + path + "'");
  } catch (const YAML::Exception& e) {
    throw ConfigError("--config", "invalid YAML in '" + path + "': " + e.what());
  }
  try {
    return loadPipelineConfig(doc, env);
  } catch (const ConfigError&) {
    throw;
  } catch (const YAML::Exception& e) {
    throw ConfigError("spec", std::string("invalid config: ") + e.what());
  }
}

std::map<std::string, std::string> processEnv() {
  std::map<std::string, std::string> m;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    m.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return m;
}

}  // namespace shoal
