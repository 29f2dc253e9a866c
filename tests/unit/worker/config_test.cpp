// loadPipelineConfig: defaults, environment overrides, and errors that name
// the offending field.
#include <gtest/gtest.h>

#include <fstream>

#include "shoal/worker/config.h"

namespace shoal {
namespace {

const char* kMinimal = R"(
spec:
  type: logs
  source:
    redis:
      url: redis://redis.example:6380/2
      stream: logs
  sink:
    elasticsearch:
      url: http://es:9200
)";

std::string errorField(const std::string& yaml, const std::map<std::string, std::string>& env = {}) {
  try {
    loadPipelineConfig(YAML::Load(yaml), env);
  } catch (const ConfigError& e) {
    return e.field();
  }
  return "<no error>";
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto p = s.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

TEST(PipelineConfig, MinimalSpecGetsDefaults) {
  auto c = loadPipelineConfig(YAML::Load(kMinimal), {{"SHOAL_CONSUMER_NAME", "pod-1"}});
  EXPECT_EQ(c.type, "logs");
  EXPECT_EQ(c.redis.host, "redis.example");
  EXPECT_EQ(c.redis.port, 6380);
  EXPECT_EQ(c.redis.db, 2);
  EXPECT_EQ(c.redis.stream, "logs");
  EXPECT_EQ(c.redis.consumerGroup, "shoal");
  EXPECT_EQ(c.redis.deadLetterStream, "logs:dead");
  EXPECT_EQ(c.redis.maxDeliveries, 5);
  EXPECT_EQ(c.delivery.batchSize, 500);
  EXPECT_EQ(c.consumerName, "pod-1");
  EXPECT_TRUE(c.sink["elasticsearch"]);
}

TEST(PipelineConfig, APipelineFileWithOperatorOnlyFieldsLoads) {
  // The worker can be run on the Pipeline resource as applied: retention and
  // the group deletion policy are the operator's, accepted and ignored here.
  std::string doc = std::string(kMinimal) +
                    "  consumerGroupDeletionPolicy: Retain\n  retention: {maxLength: 1000, onFull: throttle}\n";
  auto c = loadPipelineConfig(YAML::Load(doc), {{"SHOAL_CONSUMER_NAME", "pod-1"}});
  EXPECT_EQ(c.redis.stream, "logs");
}

TEST(PipelineConfig, BareSpecAndAllFields) {
  auto c = loadPipelineConfig(YAML::Load(R"(
type: metrics
source:
  redis:
    address: 10.1.2.3:7000
    db: 1
    username: worker
    tls: {enabled: true, caFile: /ca.pem, serverName: redis.internal}
    stream: m
    consumerGroup: g
    startId: "0"
    deadLetterStream: m-dead
    maxDeliveries: 3
    claimMinIdleMs: 1000
    claimIntervalMs: 100
    connectTimeoutMs: 10
    readTimeoutMs: 20
    blockMs: 30
delivery: {batchSize: 10, batchBytes: 1000, lingerMs: 0, retryInitialMs: 5, retryMaxMs: 50, maxEntryBytes: 99, shutdownTimeoutMs: 700}
)"),
                              {});
  EXPECT_EQ(c.redis.host, "10.1.2.3");
  EXPECT_EQ(c.redis.port, 7000);
  EXPECT_TRUE(c.redis.tls.enabled);
  EXPECT_EQ(c.redis.tls.serverName, "redis.internal");
  EXPECT_EQ(c.redis.startId, "0");
  EXPECT_EQ(c.redis.deadLetterStream, "m-dead");
  EXPECT_EQ(c.redis.blockMs, 30);
  EXPECT_EQ(c.delivery.lingerMs, 0);
  EXPECT_EQ(c.delivery.shutdownTimeoutMs, 700);
  EXPECT_FALSE(c.consumerName.empty());  // the hostname
}

TEST(PipelineConfig, ParallelismDefaultsToOnePipelineUnderTheConfiguredName) {
  auto c = loadPipelineConfig(YAML::Load(kMinimal), {{"SHOAL_CONSUMER_NAME", "pod-1"}});
  EXPECT_EQ(c.delivery.parallelism, 1);
  auto p = deliveryPipelines(c);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].consumerName, "pod-1");
  EXPECT_EQ(p[0].redis.stream, "logs");
  EXPECT_EQ(p[0].redis.deadLetterStream, "logs:dead");
}

TEST(PipelineConfig, EachParallelPipelineIsItsOwnConsumerOnEveryShard) {
  auto c = loadPipelineConfig(
      YAML::Load(replace(kMinimal, "stream: logs", "stream: logs\n      shards: 2") + "  delivery: {parallelism: 3}\n"),
      {{"SHOAL_CONSUMER_NAME", "pod-1"}});
  EXPECT_EQ(c.delivery.parallelism, 3);
  auto p = deliveryPipelines(c);
  ASSERT_EQ(p.size(), 6u);
  std::vector<std::pair<std::string, std::string>> got;
  for (const auto& x : p) {
    got.emplace_back(x.redis.stream, x.consumerName);
    EXPECT_EQ(x.delivery.parallelism, 3);
    EXPECT_EQ(x.redis.consumerGroup, c.redis.consumerGroup);
  }
  const std::vector<std::pair<std::string, std::string>> want{
      {"logs:{0}", "pod-1-0"}, {"logs:{0}", "pod-1-1"}, {"logs:{0}", "pod-1-2"},
      {"logs:{1}", "pod-1-0"}, {"logs:{1}", "pod-1-1"}, {"logs:{1}", "pod-1-2"}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(p[0].redis.deadLetterStream, p[2].redis.deadLetterStream);  // one shard, one dead-letter stream
  EXPECT_NE(p[0].redis.deadLetterStream, p[3].redis.deadLetterStream);
}

TEST(PipelineConfig, EnvironmentOverridesAndSecrets) {
  const std::string pwFile = ::testing::TempDir() + "/shoal-redis-pw";
  std::ofstream(pwFile) << "from-file\n";
  auto c = loadPipelineConfig(YAML::Load(kMinimal), {{"SHOAL_REDIS_URL", "rediss://u:p@other:1234/5"},
                                                     {"SHOAL_REDIS_PASSWORD_FILE", pwFile}});
  EXPECT_EQ(c.redis.host, "other");
  EXPECT_EQ(c.redis.port, 1234);
  EXPECT_EQ(c.redis.db, 5);
  EXPECT_TRUE(c.redis.tls.enabled);
  EXPECT_EQ(c.redis.username, "u");
  EXPECT_EQ(c.redis.password, "from-file");
  auto d = loadPipelineConfig(YAML::Load(kMinimal), {{"SHOAL_REDIS_PASSWORD", "pw"}, {"SHOAL_REDIS_USERNAME", "me"}});
  EXPECT_EQ(d.redis.password, "pw");
  EXPECT_EQ(d.redis.username, "me");
}

TEST(PipelineConfig, ErrorsNameTheField) {
  EXPECT_EQ(errorField(replace(kMinimal, "      stream: logs\n", "")), "spec.source.redis.stream");
  EXPECT_EQ(errorField(replace(kMinimal, "type: logs", "type: traces")), "spec.type");
  EXPECT_EQ(errorField(replace(kMinimal, "  type: logs\n", "")), "spec.type");
  EXPECT_EQ(errorField(replace(kMinimal, "stream: logs", "stream: logs\n      password: hunter2")),
            "spec.source.redis.password");
  EXPECT_EQ(errorField(replace(kMinimal, "redis://redis.example", "redis://u:pw@redis.example")),
            "spec.source.redis.url");
  EXPECT_EQ(errorField(replace(kMinimal, "redis://redis.example:6380/2", "http://x")), "spec.source.redis.url");
  EXPECT_EQ(errorField(replace(kMinimal, "stream: logs", "stream: logs\n      maxDeliveries: zero")),
            "spec.source.redis.maxDeliveries");
  EXPECT_EQ(errorField(replace(kMinimal, "stream: logs", "stream: logs\n      maxDeliveries: 0")),
            "spec.source.redis.maxDeliveries");
  EXPECT_EQ(errorField(replace(kMinimal, "stream: logs", "stream: logs\n      streem: x")),
            "spec.source.redis.streem");
  EXPECT_EQ(errorField(replace(kMinimal, "stream: logs", "stream: logs\n      address: a:1")),
            "spec.source.redis.url");
  EXPECT_EQ(errorField(replace(kMinimal, "      url: redis://redis.example:6380/2\n", "")), "spec.source.redis.url");
  EXPECT_EQ(errorField(replace(kMinimal, "      url: redis://redis.example:6380/2\n", "      address: nohost\n")),
            "spec.source.redis.address");
  EXPECT_EQ(errorField(replace(kMinimal, "stream: logs", "stream: logs\n      tls: {enabled: maybe}")),
            "spec.source.redis.tls.enabled");
  EXPECT_EQ(errorField(std::string(kMinimal) + "  delivery:\n    batchSize: -1\n"), "spec.delivery.batchSize");
  EXPECT_EQ(errorField(std::string(kMinimal) + "  delivery:\n    retryInitialMs: 100\n    retryMaxMs: 10\n"),
            "spec.delivery.retryMaxMs");
  EXPECT_EQ(errorField(std::string(kMinimal) + "  delivery:\n    lingerMS: 1\n"), "spec.delivery.lingerMS");
  EXPECT_EQ(errorField(std::string(kMinimal) + "  delivery:\n    parallelism: 0\n"), "spec.delivery.parallelism");
  EXPECT_EQ(errorField(std::string(kMinimal) + "  delivery:\n    parallelism: 65\n"), "spec.delivery.parallelism");
  EXPECT_EQ(errorField(std::string(kMinimal) + "  delivery:\n    parallelism: two\n"), "spec.delivery.parallelism");
  EXPECT_EQ(errorField(replace(kMinimal, "stream: logs", "stream: logs\n      deadLetterStream: logs")),
            "spec.source.redis.deadLetterStream");
  EXPECT_EQ(errorField(kMinimal, {{"SHOAL_REDIS_PASSWORD_FILE", "/nonexistent/pw"}}),
            "env SHOAL_REDIS_PASSWORD_FILE");
  EXPECT_EQ(errorField(kMinimal, {{"SHOAL_REDIS_URL", "redis://h:badport"}}), "env SHOAL_REDIS_URL");
  EXPECT_EQ(errorField("[1, 2]"), "spec");
}

TEST(PipelineConfig, UrlCanComeOnlyFromTheEnvironment) {
  auto c = loadPipelineConfig(YAML::Load(replace(kMinimal, "      url: redis://redis.example:6380/2\n", "")),
                              {{"SHOAL_REDIS_URL", "redis://h:1"}});
  EXPECT_EQ(c.redis.host, "h");
  EXPECT_EQ(c.redis.port, 1);
}

TEST(PipelineConfig, SecretReferencesOfThePipelineResourceAreAccepted) {
  auto c = loadPipelineConfig(
      YAML::Load(replace(kMinimal, "stream: logs",
                         "stream: logs\n      passwordSecretRef: {name: s, key: pw}\n      tls: {enabled: true, "
                         "caSecretRef: {name: ca}}")),
      {});
  EXPECT_TRUE(c.redis.tls.enabled);
}

TEST(PipelineConfig, FileErrors) {
  try {
    loadPipelineConfigFile("/nonexistent/pipeline.yaml", {});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "--config");
  }
  const std::string bad = ::testing::TempDir() + "/shoal-bad.yaml";
  std::ofstream(bad) << "spec: [unclosed\n";
  try {
    loadPipelineConfigFile(bad, {});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "--config");
  }
}

}  // namespace
}  // namespace shoal
