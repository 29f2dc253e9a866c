// Every query of the Grafana dashboard against a real Prometheus that
// scrapes a running shoal-operator (on a real control plane, measuring a
// real Redis) and two running shoal-workers (a logs pipeline into
// shoal-bulk-server, a metrics pipeline into that Prometheus' remote write):
// with the template variables substituted as Grafana would, each query
// parses and returns series carrying the labels its legend names, in the
// chosen namespace. The same Prometheus loads the chart's rule file: every
// rule evaluates without error and the recording rules give per-pool series.
// Skips (GTEST_SKIP) without the control-plane binaries.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "monitoring_files.h"
#include "shoal/testing/bulk_server.h"
#include "shoal/testing/kube_control_plane.h"
#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

namespace shoal::monitoring_test {
namespace {

using nlohmann::json;
using shoal::testing::Process;
using namespace std::chrono_literals;

const std::string kNs = "dash";

json pipeline(const std::string& name, const json& spec) {
  return {{"apiVersion", "shoal.dev/v1alpha1"},
          {"kind", "Pipeline"},
          {"metadata", {{"name", name}, {"namespace", kNs}}},
          {"spec", spec}};
}

json workerPool(const std::string& name, const std::string& pipelineName) {
  return {{"apiVersion", "shoal.dev/v1alpha1"},
          {"kind", "WorkerPool"},
          {"metadata", {{"name", name}, {"namespace", kNs}}},
          {"spec",
           {{"pipelineRef", {{"name", pipelineName}}},
            {"image", "shoal-worker:test"},
            {"minReplicas", 1},
            {"maxReplicas", 3},
            {"scaling",
             {{"policy", "drainTime"}, {"drainSeconds", 30}, {"pollIntervalSeconds", 1}}}}}};
}

json redisSource(const testing::RedisServer& redis, const std::string& stream) {
  return {{"url", redis.url()}, {"stream", stream}, {"consumerGroup", "shoal"}, {"startId", "0"},
          {"maxDeliveries", 2}};
}

/// What one query returned: the HTTP status, Prometheus' error, the series.
struct QueryResult {
  int status = 0;
  std::string error;
  json series = json::array();
};

json apiGet(const testing::PrometheusServer& prom, const std::string& path,
            const httplib::Params& params, int* status) {
  httplib::Client c("127.0.0.1", prom.port());
  c.set_read_timeout(10, 0);
  auto r = c.Get(path, params, httplib::Headers{});
  *status = r ? r->status : 0;
  return r ? json::parse(r->body, nullptr, false) : json();
}

QueryResult instantQuery(const testing::PrometheusServer& prom, const std::string& promql) {
  QueryResult out;
  const json j = apiGet(prom, "/api/v1/query", {{"query", promql}}, &out.status);
  if (!j.is_object()) {
    out.error = "no JSON answer";
  } else if (j.value("status", "") != "success") {
    out.error = j.value("errorType", "") + ": " + j.value("error", "");
  } else {
    out.series = j["data"]["result"];
  }
  return out;
}

/// Empty when the result is what the query promises, else what is wrong.
std::string problemWith(const DashboardQuery& q, const QueryResult& r) {
  if (r.status != 200 || !r.error.empty()) {
    return "HTTP " + std::to_string(r.status) + " " + r.error;
  }
  if (r.series.empty()) return "no series";
  for (const auto& s : r.series) {
    for (const auto& label : q.legendLabels) {
      if (!s["metric"].contains(label)) return "a series without label " + label + ": " + s.dump();
    }
    if (q.selectsNamespace && s["metric"].value("namespace", "") != kNs) {
      return "a series outside namespace " + kNs + ": " + s.dump();
    }
  }
  return "";
}

TEST(DashboardAgainstPrometheus, EveryQueryParsesAndReturnsSeriesWithItsLegendLabels) {
  // The API server alone: nothing here needs Deployments to roll out.
  const testing::KubeControlPlane::Options cpOptions;
  SHOAL_REQUIRE_K8S(cpOptions);
  testing::KubeControlPlane cp(cpOptions);
  auto k = cp.kubectl({"apply", "-f", kSourceDir + "/crds/shoal.dev_pipelines.yaml", "-f",
                       kSourceDir + "/crds/shoal.dev_workerpools.yaml"});
  ASSERT_EQ(k.exitCode, 0) << k.err;
  k = cp.kubectl({"wait", "--for=condition=Established", "--timeout=60s", "crd/pipelines.shoal.dev",
                  "crd/workerpools.shoal.dev"});
  ASSERT_EQ(k.exitCode, 0) << k.err;
  cp.kubectl({"create", "namespace", kNs});

  testing::TempDir dir;
  testing::RedisServer redis;
  testing::BulkServer bulk;
  const int operatorPort = testing::freePort();
  const int logsWorkerPort = testing::freePort();
  const int metricsWorkerPort = testing::freePort();
  // The labels a ServiceMonitor (honorLabels) and the chart's PodMonitor
  // give: the pool series keep their own namespace; each worker's series get
  // its pod's namespace and the pool from the pod label.
  std::ostringstream scrape;
  scrape << "  - job_name: shoal-operator\n    honor_labels: true\n    static_configs:\n"
         << "      - targets: ['127.0.0.1:" << operatorPort << "']\n"
         << "  - job_name: shoal-worker\n    static_configs:\n"
         << "      - targets: ['127.0.0.1:" << logsWorkerPort << "']\n"
         << "        labels: {namespace: " << kNs << ", pool: logs-pool}\n"
         << "      - targets: ['127.0.0.1:" << metricsWorkerPort << "']\n"
         << "        labels: {namespace: " << kNs << ", pool: metrics-pool}\n";
  testing::PrometheusServer prom(
      {.scrapeInterval = "1s", .scrapeConfigs = scrape.str(), .ruleFiles = {kRuleFile}});

  const json logs = pipeline(
      "logs", {{"type", "logs"},
               {"source", {{"redis", redisSource(redis, "logs")}}},
               {"transform", {{"logs", {{"format", "json"}}}}},
               {"sink", {{"elasticsearch", {{"url", bulk.url()}, {"index", "logs"}}}}}});
  const json metrics = pipeline(
      "metrics", {{"type", "metrics"},
                  {"source", {{"redis", redisSource(redis, "metrics")}}},
                  {"sink", {{"prometheusRemoteWrite", {{"url", prom.url() + "/api/v1/write"}}}}}});
  // A pool with a backlog and no worker running: the drain estimate and the
  // backlog's age have something to show.
  const json held = pipeline(
      "held", {{"type", "logs"},
               {"source", {{"redis", redisSource(redis, "held")}}},
               {"sink", {{"elasticsearch", {{"url", bulk.url()}, {"index", "held"}}}}}});
  for (const json& obj : {logs, metrics, held, workerPool("logs-pool", "logs"),
                          workerPool("metrics-pool", "metrics"), workerPool("held-pool", "held")}) {
    k = cp.kubectl({"apply", "-f", "-"}, obj.dump());
    ASSERT_EQ(k.exitCode, 0) << k.err << obj.dump();
  }

  Process op({.argv = {SHOAL_OPERATOR_BINARY, "--kubeconfig", cp.kubeconfig(), "--namespace", kNs,
                       "--metrics-bind-address", "127.0.0.1:" + std::to_string(operatorPort),
                       "--health-probe-bind-address",
                       "127.0.0.1:" + std::to_string(testing::freePort())},
              .stderrPath = dir.file("operator.log")});
  auto startWorker = [&](const json& p, int port, const std::string& name) {
    const std::string config = dir.file(name + ".yaml");
    std::ofstream(config) << p.dump(2) << "\n";  // JSON is YAML
    return Process({.argv = {SHOAL_WORKER_BINARY, "--config", config, "--listen",
                             "127.0.0.1:" + std::to_string(port), "--log-level", "warn"},
                    .env = {{"SHOAL_CONSUMER_NAME", name}},
                    .stderrPath = dir.file(name + ".log")});
  };
  Process logsWorker = startWorker(logs, logsWorkerPort, "logs-worker");
  Process metricsWorker = startWorker(metrics, metricsWorkerPort, "metrics-worker");

  // Traffic that makes every counter the dashboard reads move: deliveries, a
  // retried item (429), an item rejected for good (400), a line that is not
  // JSON, an invalid metric event; and 2000 entries nobody consumes.
  bulk.failItems(429, 1);
  bulk.failItems(400, 1);
  for (int i = 0; i < 20; ++i) {
    redis.cli("XADD logs '*' message '{\"message\":\"hello " + std::to_string(i) + "\"}'");
  }
  redis.cli("XADD logs '*' message 'not json at all'");
  const auto nowMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  for (int i = 0; i < 3; ++i) {
    redis.cli(R"(XADD metrics '*' event '{"name":"dash_jobs_total","type":"counter","value":)" +
              std::to_string(i) + R"(,"timestamp":)" + std::to_string(nowMs) + "}'");
  }
  redis.cli(R"(XADD metrics '*' event '{"name":"bad name","type":"gauge","value":1}')");
  redis.cli("XGROUP CREATE held shoal 0 MKSTREAM");
  redis.cli(
      "EVAL \"for i = 1, 2000 do redis.call('XADD', KEYS[1], '*', 'message', 'x') end\" 1 held");

  const auto queries = dashboardQueries(json::parse(readFile(kDashboardFile)));
  ASSERT_GE(queries.size(), 25u);
  // All namespaces and pools chosen as Grafana's "All" sends them, except
  // the namespace, which is this test's so the filter is seen to work.
  auto promql = [&](const DashboardQuery& q) {
    return substituteVariables(q.expr, kNs, ".*", "10s");
  };
  std::map<std::string, std::string> problems;
  const bool allGood = testing::waitUntil(
      [&] {
        problems.clear();
        for (const auto& q : queries) {
          const std::string p = problemWith(q, instantQuery(prom, promql(q)));
          if (!p.empty()) problems[q.panel + " " + q.refId] = p;
        }
        return problems.empty();
      },
      120s, 1s);
  std::string report;
  for (const auto& q : queries) {
    if (auto it = problems.find(q.panel + " " + q.refId); it != problems.end()) {
      report += "  " + it->first + ": " + it->second + "\n    " + promql(q) + "\n";
    }
  }
  EXPECT_TRUE(allGood) << problems.size() << " of " << queries.size()
                       << " dashboard queries are not answered as promised:\n"
                       << report << "operator log:\n"
                       << Process::readFile(dir.file("operator.log")).substr(0, 4000);
  std::cout << "dashboard: " << queries.size() - problems.size() << " of " << queries.size()
            << " queries return series with their legend labels\n";

  // The rule file on the same series: every rule evaluated without error,
  // and each per-pool recording rule gives series labelled namespace and pool.
  std::string rulesProblem;
  auto notYet = [&](std::string why) {
    rulesProblem = std::move(why);
    return false;
  };
  const bool rulesGood = testing::waitUntil(
      [&] {
        int st = 0;
        const json j = apiGet(prom, "/api/v1/rules", {}, &st);
        if (st != 200 || !j.is_object()) return notYet("no answer");
        int evaluated = 0;
        for (const auto& g : j["data"]["groups"]) {
          for (const auto& r : g["rules"]) {
            if (r.value("health", "") != "ok") {
              return notYet(r.value("name", "") + ": " + r.dump());
            }
            ++evaluated;
          }
        }
        if (evaluated < 12) return notYet(std::to_string(evaluated) + " rules");
        for (const char* rec : {"namespace_pool:shoal_worker_entries_delivered:rate5m",
                                "namespace_pool:shoal_worker_entries_dead_lettered:rate5m",
                                "namespace_pool:shoal_worker_entries_retried:rate5m",
                                "namespace_pool:shoal_workerpool_backlog:deriv10m"}) {
          const QueryResult r = instantQuery(prom, rec);
          const DashboardQuery q{.panel = rec, .legendLabels = {"namespace", "pool"}};
          if (auto p = problemWith(q, r); !p.empty()) return notYet(rec + (": " + p));
        }
        return true;
      },
      60s, 1s);
  EXPECT_TRUE(rulesGood) << rulesProblem;

  logsWorker.signal(SIGTERM);
  metricsWorker.signal(SIGTERM);
  op.signal(SIGTERM);
  EXPECT_TRUE(logsWorker.wait(20s).has_value());
  EXPECT_TRUE(metricsWorker.wait(20s).has_value());
  EXPECT_TRUE(op.wait(20s).has_value());
}

}  // namespace
}  // namespace shoal::monitoring_test
