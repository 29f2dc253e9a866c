// Parsing of spec.sink.{prometheusRemoteWrite,pushgateway,postgres}.
#include "shoal/metrics/metrics_config.h"

#include "shoal/metrics/http_transport.h"
#include "shoal/metrics/metric_event.h"

namespace shoal::metrics {

std::string yamlString(const YAML::Node& m, const std::string& key, const std::string& path,
                       const std::string& def, bool required) {
  const YAML::Node v = m[key];
  if (!v || v.IsNull()) {
    if (required) throw ConfigError(path + "." + key, "required");
    return def;
  }
  if (!v.IsScalar()) throw ConfigError(path + "." + key, "must be a string");
  return v.Scalar();
}

int64_t yamlInt(const YAML::Node& m, const std::string& key, const std::string& path, int64_t def,
                int64_t min, int64_t max) {
  const YAML::Node v = m[key];
  if (!v || v.IsNull()) return def;
  int64_t out = 0;
  try {
    out = v.as<int64_t>();
  } catch (const YAML::Exception&) {
    throw ConfigError(path + "." + key, "must be an integer");
  }
  if (out < min || out > max)
    throw ConfigError(path + "." + key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
  return out;
}

std::map<std::string, std::string> yamlStringMap(const YAML::Node& m, const std::string& key,
                                                 const std::string& path) {
  std::map<std::string, std::string> out;
  const YAML::Node v = m[key];
  if (!v || v.IsNull()) return out;
  if (!v.IsMap()) throw ConfigError(path + "." + key, "must be a mapping of strings");
  for (auto it : v) {
    if (!it.second.IsScalar()) throw ConfigError(path + "." + key, "values must be strings");
    out[it.first.as<std::string>()] = it.second.Scalar();
  }
  return out;
}

void yamlCheckKeys(const YAML::Node& m, const std::string& path, std::initializer_list<const char*> known) {
  for (auto it : m) {
    const std::string key = it.first.as<std::string>();
    // Secret references (passwordSecretRef, ...) are the operator's business:
    // it turns them into SHOAL_SINK_* environment variables for the worker.
    const std::string_view ref = "SecretRef";
    bool ok = key.size() > ref.size() && key.compare(key.size() - ref.size(), ref.size(), ref) == 0;
    for (const char* k : known) ok = ok || key == k;
    if (!ok) throw ConfigError(path + "." + key, "unknown field");
  }
}

namespace {
void requireMap(const YAML::Node& n, const std::string& path) {
  if (!n.IsMap()) throw ConfigError(path, "must be a mapping");
}
void checkUrl(const std::string& url, const std::string& field) {
  auto u = parseHttpUrl(url);
  if (!u) throw ConfigError(field, u.error().message);
}
}  // namespace

RemoteWriteConfig parseRemoteWriteConfig(const YAML::Node& n, const std::string& p) {
  requireMap(n, p);
  yamlCheckKeys(n, p, {"url", "maxSamplesPerRequest", "shards", "timeoutMs", "retryInitialMs", "retryMaxMs", "headers"});
  RemoteWriteConfig c;
  c.url = yamlString(n, "url", p, "", true);
  checkUrl(c.url, p + ".url");
  c.maxSamplesPerRequest = static_cast<size_t>(yamlInt(n, "maxSamplesPerRequest", p, 2000, 1, 1000000));
  c.shards = static_cast<int>(yamlInt(n, "shards", p, 2, 1, 64));
  c.timeout = std::chrono::milliseconds(yamlInt(n, "timeoutMs", p, 10000, 1, 600000));
  c.retryInitial = std::chrono::milliseconds(yamlInt(n, "retryInitialMs", p, 30, 1, 600000));
  c.retryMax = std::chrono::milliseconds(yamlInt(n, "retryMaxMs", p, 5000, 1, 3600000));
  c.headers = yamlStringMap(n, "headers", p);
  return c;
}

PushgatewayConfig parsePushgatewayConfig(const YAML::Node& n, const std::string& p) {
  requireMap(n, p);
  yamlCheckKeys(n, p, {"url", "job", "method", "grouping", "groupingLabels", "timeoutMs", "retryInitialMs", "retryMaxMs"});
  PushgatewayConfig c;
  c.url = yamlString(n, "url", p, "", true);
  checkUrl(c.url, p + ".url");
  c.job = yamlString(n, "job", p, "", true);
  if (c.job.empty()) throw ConfigError(p + ".job", "must not be empty");
  const std::string method = yamlString(n, "method", p, "POST");
  if (method == "PUT") c.put = true;
  else if (method != "POST") throw ConfigError(p + ".method", "must be POST or PUT");
  c.grouping = yamlStringMap(n, "grouping", p);
  for (auto& [k, v] : c.grouping)
    if (!validLabelName(k) || k == "job") throw ConfigError(p + ".grouping", "invalid label name \"" + k + "\"");
  if (const YAML::Node g = n["groupingLabels"]; g && !g.IsNull()) {
    if (!g.IsSequence()) throw ConfigError(p + ".groupingLabels", "must be a list of label names");
    for (auto x : g) {
      if (!x.IsScalar() || !validLabelName(x.Scalar()) || x.Scalar() == "job")
        throw ConfigError(p + ".groupingLabels", "invalid label name");
      c.groupingLabels.push_back(x.Scalar());
    }
  }
  c.timeout = std::chrono::milliseconds(yamlInt(n, "timeoutMs", p, 10000, 1, 600000));
  c.retryInitial = std::chrono::milliseconds(yamlInt(n, "retryInitialMs", p, 30, 1, 600000));
  c.retryMax = std::chrono::milliseconds(yamlInt(n, "retryMaxMs", p, 5000, 1, 3600000));
  return c;
}

namespace {
bool validSqlIdentifier(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (!((c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9'))) return false;
  }
  return true;
}
}  // namespace

PostgresConfig parsePostgresConfig(const YAML::Node& n, const std::string& p) {
  requireMap(n, p);
  yamlCheckKeys(n, p, {"conninfo", "connectionString", "windowSeconds", "table", "processedTable", "retryInitialMs",
                       "retryMaxMs"});
  PostgresConfig c;
  c.conninfo = yamlString(n, "conninfo", p, "");
  if (c.conninfo.empty()) c.conninfo = yamlString(n, "connectionString", p, "");
  if (c.conninfo.empty()) throw ConfigError(p + ".conninfo", "required");
  c.windowSeconds = yamlInt(n, "windowSeconds", p, 60, 1, 86400 * 366);
  c.table = yamlString(n, "table", p, c.table);
  if (!validSqlIdentifier(c.table)) throw ConfigError(p + ".table", "must be a lower-case SQL identifier");
  c.processedTable = yamlString(n, "processedTable", p, c.processedTable);
  if (!validSqlIdentifier(c.processedTable))
    throw ConfigError(p + ".processedTable", "must be a lower-case SQL identifier");
  c.retryInitial = std::chrono::milliseconds(yamlInt(n, "retryInitialMs", p, 100, 1, 600000));
  c.retryMax = std::chrono::milliseconds(yamlInt(n, "retryMaxMs", p, 5000, 1, 3600000));
  return c;
}

}  // namespace shoal::metrics
