// The connection fields of a `redis` section. See source_config.h.
#include "shoal/redis/source_config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace shoal::redis {
namespace {

using config::boolField;
using config::checkKeys;
using config::envOr;
using config::intField;
using config::parseInt;
using config::stringField;

void applyUrl(RedisSourceConfig& r, const std::string& url, const std::string& field, bool allowSecrets) {
  auto parsed = parseUrl(url);
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

const config::Keys kConnectionKeys = {"url",      "address",          "db",            "username", "tls",
                                      "password", "connectTimeoutMs", "readTimeoutMs", "cluster"};
const config::Keys kSecretRefKeys = {"usernameSecretRef", "passwordSecretRef"};

bool namesServer(const YAML::Node& n) { return n.IsMap() && (n["url"] || n["address"]); }

void parseConnectionFields(const YAML::Node& n, RedisSourceConfig& r, const std::string& path) {
  config::requireMap(n, path);
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
  r.connectTimeoutMs = intField(n, "connectTimeoutMs", path, r.connectTimeoutMs, 1);
  r.readTimeoutMs = intField(n, "readTimeoutMs", path, r.readTimeoutMs, 1);
  r.cluster = boolField(n, "cluster", path, r.cluster);
  if (r.cluster && r.db != 0) throw ConfigError(path + ".db", "must be 0 on a Redis Cluster");
}

void applyConnectionEnv(RedisSourceConfig& r, const std::map<std::string, std::string>& env, bool specNamesServer,
                        const std::string& urlField) {
  if (auto url = envOr(env, "SHOAL_REDIS_URL"); !url.empty()) {
    applyUrl(r, url, "env SHOAL_REDIS_URL", true);
  } else if (!specNamesServer) {
    throw ConfigError(urlField, "required: set url or address (or env SHOAL_REDIS_URL)");
  }
  if (auto u = envOr(env, "SHOAL_REDIS_USERNAME"); !u.empty()) r.username = u;
  if (auto p = envOr(env, "SHOAL_REDIS_PASSWORD"); !p.empty()) r.password = p;
  if (auto pf = envOr(env, "SHOAL_REDIS_PASSWORD_FILE"); !pf.empty())
    r.password = readSecretFile(pf, "env SHOAL_REDIS_PASSWORD_FILE");
  if (auto f = envOr(env, "SHOAL_REDIS_TLS_CA_FILE"); !f.empty()) r.tls.caFile = f;
  if (auto f = envOr(env, "SHOAL_REDIS_TLS_CERT_FILE"); !f.empty()) r.tls.certFile = f;
  if (auto f = envOr(env, "SHOAL_REDIS_TLS_KEY_FILE"); !f.empty()) r.tls.keyFile = f;
}

ConnectionOptions connectionOptions(const RedisSourceConfig& c) {
  ConnectionOptions o;
  o.host = c.host;
  o.port = c.port;
  o.db = c.db;
  o.username = c.username;
  o.password = c.password;
  o.tls.enabled = c.tls.enabled;
  o.tls.caFile = c.tls.caFile;
  o.tls.certFile = c.tls.certFile;
  o.tls.keyFile = c.tls.keyFile;
  o.tls.serverName = c.tls.serverName;
  o.tls.insecureSkipVerify = c.tls.insecureSkipVerify;
  o.connectTimeout = millis(c.connectTimeoutMs);
  o.readTimeout = millis(c.readTimeoutMs);
  return o;
}

}  // namespace shoal::redis
