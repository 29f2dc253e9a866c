// The Pipeline the API server stores (after its defaults and pruning) is a
// configuration the worker accepts: each example is applied to the real API
// server, read back, and parsed by the worker's own loaders (the operator
// mounts exactly this spec as the worker's config file). A schema field the
// worker does not know, or a default it rejects, fails here.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <string>

#include "chart_cluster.h"
#include "shoal/logs/logs_config.h"
#include "shoal/metrics/metrics_config.h"
#include "shoal/metrics/metrics_transform.h"
#include "shoal/worker/config.h"

namespace shoal::chart_test {
namespace {

class WorkerConfigCompatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = sharedChartCluster(whyNot_);
    if (!cluster_) GTEST_SKIP() << whyNot_;
    auto r = cluster_->kubectl("apply --server-side -f " + sourcePath("crds/shoal.dev_pipelines.yaml") + " -f " +
                               sourcePath("crds/shoal.dev_workerpools.yaml") + " -f " +
                               sourcePath("crds/shoal.dev_receivers.yaml"));
    ASSERT_TRUE(r.ok()) << r.output;
    ASSERT_TRUE(cluster_->kubectl("wait --for=condition=Established --timeout=30s crd/pipelines.shoal.dev "
                                  "crd/receivers.shoal.dev").ok());
  }

  // Applies `yaml` into a fresh namespace and returns the stored Pipeline `name`.
  YAML::Node storedPipeline(const std::string& file, const std::string& name) {
    static int n = 0;
    const std::string ns = "worker-compat-" + std::to_string(++n);
    EXPECT_TRUE(cluster_->kubectl("create namespace " + ns).ok());
    auto a = cluster_->kubectl("apply -n " + ns + " -f " + sourcePath(file));
    EXPECT_TRUE(a.ok()) << a.output;
    auto g = cluster_->kubectl("get pipeline/" + name + " -n " + ns + " -o yaml");
    EXPECT_TRUE(g.ok()) << g.output;
    return YAML::Load(g.output);
  }

  ChartCluster* cluster_ = nullptr;
  std::string whyNot_;
};

TEST_F(WorkerConfigCompatTest, StoredLogsExampleIsAValidWorkerConfig) {
  const YAML::Node stored = storedPipeline("deploy/examples/logs-elasticsearch.yaml", "app-logs");
  // What the operator turns the Secret references into.
  const std::map<std::string, std::string> env{{"SHOAL_REDIS_PASSWORD", "pw"},
                                               {"SHOAL_SINK_USERNAME", "shoal-writer"},
                                               {"SHOAL_SINK_PASSWORD", "pw"}};
  try {
    const PipelineConfig c = loadPipelineConfig(stored, env);
    EXPECT_EQ(c.type, "logs");
    EXPECT_EQ(c.redis.stream, "logs:app");
    EXPECT_EQ(c.redis.consumerGroup, "shoal-app-logs");
    EXPECT_EQ(c.delivery.batchSize, 1000);
    const logs::LogsPipelineConfig l = logs::parseLogsConfig(c, env);
    EXPECT_EQ(l.sink.url, "https://elasticsearch.logging.svc:9200");
  } catch (const ConfigError& e) {
    ADD_FAILURE() << "the worker rejects the stored spec: " << e.what() << "\n" << YAML::Dump(stored["spec"]);
  }
}

TEST_F(WorkerConfigCompatTest, StoredMetricsExampleIsAValidWorkerConfig) {
  const YAML::Node stored = storedPipeline("deploy/examples/metrics-remote-write.yaml", "edge-metrics");
  const std::map<std::string, std::string> env{{"SHOAL_REDIS_USERNAME", "shoal"}, {"SHOAL_REDIS_PASSWORD", "pw"}};
  try {
    const PipelineConfig c = loadPipelineConfig(stored, env);
    EXPECT_EQ(c.type, "metrics");
    EXPECT_TRUE(c.redis.tls.enabled) << "rediss:// implies TLS";
    const auto t = metrics::parseTransformConfig(c.transform);
    EXPECT_EQ(t.payloadField, "event");
    const auto rw = metrics::parseRemoteWriteConfig(c.sink["prometheusRemoteWrite"], "spec.sink.prometheusRemoteWrite");
    EXPECT_EQ(rw.shards, 4);
    EXPECT_EQ(rw.maxSamplesPerRequest, 2000u) << "the CRD default";
  } catch (const ConfigError& e) {
    ADD_FAILURE() << "the worker rejects the stored spec: " << e.what() << "\n" << YAML::Dump(stored["spec"]);
  }
}

// Applies a metrics Pipeline with the given sink section and returns the
// stored object.
YAML::Node storedMetricsPipeline(ChartCluster& cluster, const std::string& name, const std::string& sink) {
  const std::string ns = "worker-compat-sinks";
  cluster.kubectl("create namespace " + ns);
  const std::string yaml = "apiVersion: shoal.dev/v1alpha1\nkind: Pipeline\nmetadata:\n  name: " + name +
                           "\nspec:\n  type: metrics\n  source:\n    redis:\n      address: redis:6379\n"
                           "      stream: s\n  sink:\n" + sink;
  auto a = cluster.apply(yaml, "-n " + ns);
  EXPECT_TRUE(a.ok()) << a.output;
  auto g = cluster.kubectl("get pipeline/" + name + " -n " + ns + " -o yaml");
  EXPECT_TRUE(g.ok()) << g.output;
  return YAML::Load(g.output);
}

TEST_F(WorkerConfigCompatTest, StoredPushgatewaySinkIsAValidWorkerConfig) {
  const YAML::Node stored = storedMetricsPipeline(
      *cluster_, "pgw", "    pushgateway:\n      url: http://pgw:9091\n      groupingLabels: [instance]\n");
  try {
    const PipelineConfig c = loadPipelineConfig(stored, {});
    const auto p = metrics::parsePushgatewayConfig(c.sink["pushgateway"], "spec.sink.pushgateway");
    EXPECT_EQ(p.job, "shoal") << "the CRD default";
  } catch (const ConfigError& e) {
    ADD_FAILURE() << "the worker rejects the stored spec: " << e.what() << "\n" << YAML::Dump(stored["spec"]);
  }
}

// The operator resolves *SecretRef keys into SHOAL_SINK_* variables; the
// worker's sink parsers must accept (and ignore) them.
TEST_F(WorkerConfigCompatTest, StoredPostgresSinkIsAValidWorkerConfig) {
  const YAML::Node stored = storedMetricsPipeline(
      *cluster_, "pg", "    postgres:\n      conninfo: host=db dbname=metrics user=shoal\n"
                       "      passwordSecretRef:\n        name: db\n");
  try {
    const PipelineConfig c = loadPipelineConfig(stored, {{"SHOAL_SINK_PASSWORD", "pw"}});
    const auto p = metrics::parsePostgresConfig(c.sink["postgres"], "spec.sink.postgres");
    EXPECT_EQ(p.table, "shoal_metric_aggregates") << "the CRD default";
  } catch (const ConfigError& e) {
    ADD_FAILURE() << "the worker rejects the stored spec: " << e.what() << "\n" << YAML::Dump(stored["spec"]);
  }
}

}  // namespace
}  // namespace shoal::chart_test
