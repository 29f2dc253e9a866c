// Parsing spec.transform.logs and spec.sink.elasticsearch. See logs_config.h.
#include "shoal/logs/logs_config.h"

#include "shoal/http/url.h"
#include "shoal/logs/index_pattern.h"
#include "shoal/stream/config_fields.h"

namespace shoal::logs {
namespace {

using config::asBool;
using config::asInt;
using config::asString;
using config::checkKeys;
using config::envOr;

LogsTransformConfig parseTransform(const YAML::Node& transform) {
  LogsTransformConfig t;
  const std::string base = "spec.transform.logs";
  if (!transform || transform.IsNull()) return t;
  if (!transform.IsMap()) throw ConfigError("spec.transform", "must be a mapping");
  YAML::Node logs = transform["logs"];
  if (!logs || logs.IsNull()) return t;
  checkKeys(logs, base,
                {"format", "messageField", "payloadField", "dataset", "fields", "enrich",
                 "entryFieldsAsLabels", "keepOriginal", "maxFields"});
  if (logs["format"]) {
    std::string f = asString(logs["format"], base + ".format");
    if (f == "plain") f = "fields";
    auto fmt = parseLogFormat(f);
    if (!fmt) throw ConfigError(base + ".format", "must be one of auto, json, rfc5424, rfc3164, plain");
    t.format = *fmt;
  }
  for (const char* key : {"messageField", "payloadField"}) {
    if (!logs[key]) continue;
    t.payloadField = asString(logs[key], base + "." + key);
    if (t.payloadField.empty()) throw ConfigError(base + "." + key, "must not be empty");
  }
  if (logs["dataset"]) t.defaultDataset = asString(logs["dataset"], base + ".dataset");
  if (logs["entryFieldsAsLabels"])
    t.entryFieldsAsLabels = asBool(logs["entryFieldsAsLabels"], base + ".entryFieldsAsLabels");
  if (logs["keepOriginal"]) t.keepOriginal = asBool(logs["keepOriginal"], base + ".keepOriginal");
  if (logs["maxFields"])
    t.maxFields =
        static_cast<size_t>(asInt(logs["maxFields"], base + ".maxFields", 1, kMaxFieldsCeiling));
  for (const char* key : {"fields", "enrich"}) {
    YAML::Node m = logs[key];
    if (!m || m.IsNull()) continue;
    const std::string path = base + "." + key;
    if (!m.IsMap()) throw ConfigError(path, "must be a mapping of ECS field names to strings");
    for (auto it = m.begin(); it != m.end(); ++it) {
      std::string name = it->first.as<std::string>();
      std::string value = asString(it->second, path + "." + name);
      if (name == "environment") name = "service.environment";
      else if (name == "version") name = "service.version";
      if (name.empty() || name.front() == '.' || name.back() == '.' ||
          name.find("..") != std::string::npos)
        throw ConfigError(path + "." + name, "invalid field name");
      if (name == "@timestamp" || name == "event.ingested" || name == "ecs.version")
        throw ConfigError(path + "." + name, "is set by shoal and cannot be enriched");
      t.enrich.emplace_back(std::move(name), std::move(value));
    }
  }
  return t;
}

ElasticsearchSinkConfig parseSink(const YAML::Node& sink, const DeliveryConfig& delivery,
                                  const std::map<std::string, std::string>& env) {
  ElasticsearchSinkConfig c;
  c.indexPattern = "shoal-logs-%Y.%m.%d";
  const std::string base = "spec.sink.elasticsearch";
  YAML::Node es;
  if (sink && sink.IsMap()) es = sink["elasticsearch"];
  if (!es || es.IsNull()) {
    if (envOr(env, "SHOAL_SINK_URL").empty()) throw ConfigError(base, "required for a logs pipeline");
  } else {
    checkKeys(es, base,
                  {"url", "index", "indexPattern", "indexFallback", "maxDocsPerRequest",
                   "maxBytesPerRequest", "timeoutMs", "requestTimeoutMs", "connectTimeoutMs", "tls",
                   "usernameSecretRef", "passwordSecretRef", "apiKeySecretRef", "compression"});
    if (es["url"]) c.url = asString(es["url"], base + ".url");
    for (const char* key : {"index", "indexPattern"})
      if (es[key]) c.indexPattern = asString(es[key], base + "." + key);
    if (es["indexFallback"]) c.indexFallback = asString(es["indexFallback"], base + ".indexFallback");
    if (es["maxDocsPerRequest"])
      c.maxDocsPerRequest = asInt(es["maxDocsPerRequest"], base + ".maxDocsPerRequest", 1, 100000);
    if (es["maxBytesPerRequest"])
      c.maxBytesPerRequest =
          asInt(es["maxBytesPerRequest"], base + ".maxBytesPerRequest", 1024, 100LL << 20);
    for (const char* key : {"timeoutMs", "requestTimeoutMs"})
      if (es[key]) c.requestTimeoutMs = asInt(es[key], base + "." + key, 1, 3600000);
    if (es["connectTimeoutMs"])
      c.connectTimeoutMs = asInt(es["connectTimeoutMs"], base + ".connectTimeoutMs", 1, 600000);
    if (es["compression"]) {
      const std::string v = asString(es["compression"], base + ".compression");
      if (v == "gzip") c.compression = BodyCompression::kGzip;
      else if (v == "none") c.compression = BodyCompression::kNone;
      else throw ConfigError(base + ".compression", "must be gzip or none, got '" + v + "'");
    }
    if (YAML::Node tls = es["tls"]; tls && !tls.IsNull()) {
      checkKeys(tls, base + ".tls", {"caFile", "caSecretRef", "insecureSkipVerify"});
      if (tls["caFile"]) c.caFile = asString(tls["caFile"], base + ".tls.caFile");
      if (tls["insecureSkipVerify"])
        c.insecureSkipVerify = asBool(tls["insecureSkipVerify"], base + ".tls.insecureSkipVerify");
    }
  }
  if (auto u = envOr(env, "SHOAL_SINK_URL"); !u.empty()) c.url = u;
  if (c.url.empty()) throw ConfigError(base + ".url", "required");
  if (auto u = http::parseUrl(c.url); !u) throw ConfigError(base + ".url", u.error().message);
  std::string err;
  if (!IndexPattern::compile(c.indexPattern, c.indexFallback, err))
    throw ConfigError(base + ".index", err);
  if (sanitizeIndexComponent(c.indexFallback) != c.indexFallback || c.indexFallback.empty())
    throw ConfigError(base + ".indexFallback", "must be a non-empty lowercase index name part");
  if (auto ca = envOr(env, "SHOAL_SINK_CA_FILE"); !ca.empty()) c.caFile = ca;
  c.username = envOr(env, "SHOAL_SINK_USERNAME");
  c.password = envOr(env, "SHOAL_SINK_PASSWORD");
  c.apiKey = envOr(env, "SHOAL_SINK_API_KEY");
  if (c.username.empty() != c.password.empty())
    throw ConfigError("SHOAL_SINK_USERNAME", "SHOAL_SINK_USERNAME and SHOAL_SINK_PASSWORD go together");
  if (!c.username.empty() && !c.apiKey.empty())
    throw ConfigError("SHOAL_SINK_API_KEY", "use either basic authentication or an API key, not both");
  c.retryInitialMs = delivery.retryInitialMs;
  c.retryMaxMs = delivery.retryMaxMs;
  return c;
}

}  // namespace

LogsPipelineConfig parseLogsConfig(const PipelineConfig& pipeline,
                                   const std::map<std::string, std::string>& env) {
  LogsPipelineConfig c;
  try {
    c.transform = parseTransform(pipeline.transform);
    c.sink = parseSink(pipeline.sink, pipeline.delivery, env);
  } catch (const YAML::Exception& e) {
    throw ConfigError("spec", std::string("invalid YAML: ") + e.what());
  }
  return c;
}

}  // namespace shoal::logs
