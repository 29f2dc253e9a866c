// Parsing spec.transform.logs and spec.sink.elasticsearch, with errors that
// name the field.
#include "shoal/logs/logs_config.h"

#include <gtest/gtest.h>

using namespace shoal;
using namespace shoal::logs;

namespace {

PipelineConfig pipeline(const std::string& transform, const std::string& sink) {
  PipelineConfig p;
  p.type = "logs";
  p.redis.stream = "logs:app";
  if (!transform.empty()) p.transform = YAML::Load(transform);
  if (!sink.empty()) p.sink = YAML::Load(sink);
  return p;
}

std::string errorField(const PipelineConfig& p, const std::map<std::string, std::string>& env = {}) {
  try {
    parseLogsConfig(p, env);
  } catch (const ConfigError& e) {
    return e.field();
  }
  return "(no error)";
}

}  // namespace

TEST(LogsConfig, DefaultsWithOnlyAUrl) {
  auto c = parseLogsConfig(pipeline("", "elasticsearch: {url: 'http://127.0.0.1:9200'}"), {});
  EXPECT_EQ(c.transform.format, LogFormat::kAuto);
  EXPECT_EQ(c.transform.payloadField, "message");
  EXPECT_EQ(c.sink.url, "http://127.0.0.1:9200");
  EXPECT_EQ(c.sink.indexPattern, "shoal-logs-%Y.%m.%d");
  EXPECT_EQ(c.sink.retryInitialMs, 100);
  EXPECT_EQ(c.sink.compression, BodyCompression::kNone);
}

TEST(LogsConfig, CompressionIsGzipOrNone) {
  EXPECT_EQ(parseLogsConfig(pipeline("", "elasticsearch: {url: 'http://h', compression: gzip}"), {}).sink.compression,
            BodyCompression::kGzip);
  EXPECT_EQ(parseLogsConfig(pipeline("", "elasticsearch: {url: 'http://h', compression: none}"), {}).sink.compression,
            BodyCompression::kNone);
  EXPECT_EQ(errorField(pipeline("", "elasticsearch: {url: 'http://h', compression: br}")),
            "spec.sink.elasticsearch.compression");
  EXPECT_EQ(errorField(pipeline("", "elasticsearch: {url: 'http://h', compression: [gzip]}")),
            "spec.sink.elasticsearch.compression");
}

TEST(LogsConfig, ReadsEverySectionAndShorthands) {
  auto c = parseLogsConfig(
      pipeline(R"(
logs:
  format: plain
  payloadField: line
  dataset: app.logs
  keepOriginal: true
  entryFieldsAsLabels: false
  fields: {environment: prod, version: "1.2", labels.team: core}
)",
               R"(
elasticsearch:
  url: https://es.example:9243/prefix
  index: "logs-{service.name}-{yyyy.MM.dd}"
  indexFallback: none
  maxDocsPerRequest: 200
  maxBytesPerRequest: 1048576
  timeoutMs: 5000
  tls: {caFile: /etc/ca.pem, insecureSkipVerify: false}
)"),
      {{"SHOAL_SINK_API_KEY", "k3y"}});
  EXPECT_EQ(c.transform.format, LogFormat::kFields);
  EXPECT_EQ(c.transform.payloadField, "line");
  EXPECT_EQ(c.transform.defaultDataset, "app.logs");
  EXPECT_TRUE(c.transform.keepOriginal);
  EXPECT_FALSE(c.transform.entryFieldsAsLabels);
  ASSERT_EQ(c.transform.enrich.size(), 3u);
  EXPECT_EQ(c.transform.enrich[0].first, "service.environment");
  EXPECT_EQ(c.transform.enrich[1].first, "service.version");
  EXPECT_EQ(c.transform.enrich[1].second, "1.2");
  EXPECT_EQ(c.sink.indexPattern, "logs-{service.name}-{yyyy.MM.dd}");
  EXPECT_EQ(c.sink.indexFallback, "none");
  EXPECT_EQ(c.sink.maxDocsPerRequest, 200);
  EXPECT_EQ(c.sink.requestTimeoutMs, 5000);
  EXPECT_EQ(c.sink.caFile, "/etc/ca.pem");
  EXPECT_EQ(c.sink.apiKey, "k3y");
}

TEST(LogsConfig, CredentialsComeFromTheEnvironment) {
  auto p = pipeline("", "elasticsearch: {url: 'http://h:9200'}");
  auto c = parseLogsConfig(p, {{"SHOAL_SINK_USERNAME", "u"}, {"SHOAL_SINK_PASSWORD", "p"},
                               {"SHOAL_SINK_CA_FILE", "/ca"}});
  EXPECT_EQ(c.sink.username, "u");
  EXPECT_EQ(c.sink.password, "p");
  EXPECT_EQ(c.sink.caFile, "/ca");
  EXPECT_EQ(errorField(p, {{"SHOAL_SINK_USERNAME", "u"}}), "SHOAL_SINK_USERNAME");
  EXPECT_EQ(errorField(p, {{"SHOAL_SINK_USERNAME", "u"}, {"SHOAL_SINK_PASSWORD", "p"},
                           {"SHOAL_SINK_API_KEY", "k"}}),
            "SHOAL_SINK_API_KEY");
}

TEST(LogsConfig, ErrorsNameTheField) {
  EXPECT_EQ(errorField(pipeline("", "")), "spec.sink.elasticsearch");
  EXPECT_EQ(errorField(pipeline("", "elasticsearch: {index: x}")), "spec.sink.elasticsearch.url");
  EXPECT_EQ(errorField(pipeline("", "elasticsearch: {url: 'ftp://x'}")),
            "spec.sink.elasticsearch.url");
  EXPECT_EQ(errorField(pipeline("", "elasticsearch: {url: 'http://x:99999'}")),
            "spec.sink.elasticsearch.url");
  EXPECT_EQ(errorField(pipeline("", "elasticsearch: {url: 'http://u:p@x'}")),
            "spec.sink.elasticsearch.url");
  EXPECT_EQ(errorField(pipeline("", "elasticsearch: {url: 'http://x', index: 'Bad'}")),
            "spec.sink.elasticsearch.index");
  EXPECT_EQ(errorField(pipeline("", "elasticsearch: {url: 'http://x', indx: 'a'}")),
            "spec.sink.elasticsearch.indx");
  EXPECT_EQ(errorField(pipeline("", "elasticsearch: {url: 'http://x', maxDocsPerRequest: 0}")),
            "spec.sink.elasticsearch.maxDocsPerRequest");
  EXPECT_EQ(errorField(pipeline("", "elasticsearch: {url: 'http://x', maxDocsPerRequest: lots}")),
            "spec.sink.elasticsearch.maxDocsPerRequest");
  EXPECT_EQ(errorField(pipeline("", "elasticsearch: {url: 'http://x', tls: {caFil: a}}")),
            "spec.sink.elasticsearch.tls.caFil");
  EXPECT_EQ(errorField(pipeline("", "elasticsearch: {url: 'http://x', tls: {insecureSkipVerify: maybe}}")),
            "spec.sink.elasticsearch.tls.insecureSkipVerify");
  const std::string sink = "elasticsearch: {url: 'http://x'}";
  EXPECT_EQ(errorField(pipeline("logs: {format: xml}", sink)), "spec.transform.logs.format");
  EXPECT_EQ(errorField(pipeline("logs: {messageField: ''}", sink)),
            "spec.transform.logs.messageField");
  EXPECT_EQ(errorField(pipeline("logs: {fields: [a]}", sink)), "spec.transform.logs.fields");
  EXPECT_EQ(errorField(pipeline("logs: {fields: {a: {b: c}}}", sink)),
            "spec.transform.logs.fields.a");
  EXPECT_EQ(errorField(pipeline("logs: {fields: {'@timestamp': x}}", sink)),
            "spec.transform.logs.fields.@timestamp");
  EXPECT_EQ(errorField(pipeline("logs: {colour: red}", sink)), "spec.transform.logs.colour");
}

TEST(LogsConfig, EnvironmentUrlOverridesTheSpec) {
  auto c = parseLogsConfig(pipeline("", "elasticsearch: {url: 'http://a:1'}"),
                           {{"SHOAL_SINK_URL", "http://b:2"}});
  EXPECT_EQ(c.sink.url, "http://b:2");
}

TEST(LogsConfig, MaxFieldsDefaultsToElasticsearchsFieldLimitAndIsBounded) {
  const std::string sink = "elasticsearch: {url: 'http://127.0.0.1:9200'}";
  EXPECT_EQ(parseLogsConfig(pipeline("", sink), {}).transform.maxFields, 1000u);
  EXPECT_EQ(parseLogsConfig(pipeline("logs: {maxFields: 50000}", sink), {}).transform.maxFields,
            50000u);
  for (const char* bad :
       {"logs: {maxFields: 0}", "logs: {maxFields: 1000001}", "logs: {maxFields: lots}"})
    EXPECT_EQ(errorField(pipeline(bad, sink)), "spec.transform.logs.maxFields") << bad;
}
