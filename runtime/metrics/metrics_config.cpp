// Parsing of spec.sink.{prometheusRemoteWrite,pushgateway,postgres}.
#include "shoal/metrics/metrics_config.h"

#include "shoal/http/url.h"
#include "shoal/metrics/metric_event.h"
#include "shoal/stream/config_fields.h"

namespace shoal::metrics {

namespace {
using config::requireMap;
void checkUrl(const std::string& url, const std::string& field) {
  auto u = http::parseUrl(url);
  if (!u) throw ConfigError(field, u.error().message);
}
}  // namespace

RemoteWriteConfig parseRemoteWriteConfig(const YAML::Node& n, const std::string& p) {
  requireMap(n, p);
  config::checkKeys(n, p, {"url", "maxSamplesPerRequest", "shards", "timeoutMs", "retryInitialMs", "retryMaxMs", "headers"}, {"*SecretRef"});
  RemoteWriteConfig c;
  c.url = config::requiredString(n, "url", p);
  checkUrl(c.url, p + ".url");
  c.maxSamplesPerRequest = static_cast<size_t>(config::intField(n, "maxSamplesPerRequest", p, 2000, 1, 1000000));
  c.shards = static_cast<int>(config::intField(n, "shards", p, 2, 1, 64));
  c.timeout = std::chrono::milliseconds(config::intField(n, "timeoutMs", p, 10000, 1, 600000));
  c.retryInitial = std::chrono::milliseconds(config::intField(n, "retryInitialMs", p, 30, 1, 600000));
  c.retryMax = std::chrono::milliseconds(config::intField(n, "retryMaxMs", p, 5000, 1, 3600000));
  c.headers = config::stringMapField(n, "headers", p);
  return c;
}

PushgatewayConfig parsePushgatewayConfig(const YAML::Node& n, const std::string& p) {
  requireMap(n, p);
  config::checkKeys(n, p, {"url", "job", "method", "grouping", "groupingLabels", "timeoutMs", "retryInitialMs", "retryMaxMs"}, {"*SecretRef"});
  PushgatewayConfig c;
  c.url = config::requiredString(n, "url", p);
  checkUrl(c.url, p + ".url");
  c.job = config::requiredString(n, "job", p);
  if (c.job.empty()) throw ConfigError(p + ".job", "must not be empty");
  const std::string method = config::stringField(n, "method", p, "POST");
  if (method == "PUT") c.put = true;
  else if (method != "POST") throw ConfigError(p + ".method", "must be POST or PUT");
  c.grouping = config::stringMapField(n, "grouping", p);
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
  c.timeout = std::chrono::milliseconds(config::intField(n, "timeoutMs", p, 10000, 1, 600000));
  c.retryInitial = std::chrono::milliseconds(config::intField(n, "retryInitialMs", p, 30, 1, 600000));
  c.retryMax = std::chrono::milliseconds(config::intField(n, "retryMaxMs", p, 5000, 1, 3600000));
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
  config::checkKeys(n, p, {"conninfo", "connectionString", "windowSeconds", "table", "processedTable", "retryInitialMs",
                       "retryMaxMs"}, {"*SecretRef"});
  PostgresConfig c;
  c.conninfo = config::stringField(n, "conninfo", p, "");
  if (c.conninfo.empty()) c.conninfo = config::stringField(n, "connectionString", p, "");
  if (c.conninfo.empty()) throw ConfigError(p + ".conninfo", "required");
  c.windowSeconds = config::intField(n, "windowSeconds", p, 60, 1, 86400 * 366);
  c.table = config::stringField(n, "table", p, c.table);
  if (!validSqlIdentifier(c.table)) throw ConfigError(p + ".table", "must be a lower-case SQL identifier");
  c.processedTable = config::stringField(n, "processedTable", p, c.processedTable);
  if (!validSqlIdentifier(c.processedTable))
    throw ConfigError(p + ".processedTable", "must be a lower-case SQL identifier");
  c.retryInitial = std::chrono::milliseconds(config::intField(n, "retryInitialMs", p, 100, 1, 600000));
  c.retryMax = std::chrono::milliseconds(config::intField(n, "retryMaxMs", p, 5000, 1, 3600000));
  return c;
}

}  // namespace shoal::metrics
