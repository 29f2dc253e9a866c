// The chart's monitoring files with the real tools: promtool checks and
// unit-tests the rule file, every alert has its annotations, its runbook
// section and a promtool test, the dashboard is a current Grafana dashboard
// over metrics Shoal exports, and helm renders both into valid objects (the
// rendered rules pass promtool too). Skips (GTEST_SKIP) when promtool or
// helm is missing.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "monitoring_files.h"
#include "shoal/testing/kube_control_plane.h"
#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

namespace shoal::monitoring_test {
namespace {

using nlohmann::json;

struct ToolRun {
  int exitCode = -1;
  std::string output;  // stdout and stderr
};
ToolRun run(const std::string& cmd) {
  ToolRun r;
  r.output = testing::runCommand(cmd + " 2>&1", false, &r.exitCode);
  return r;
}

std::string shellQuoted(const std::string& s) { return "'" + s + "'"; }

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

/// A YAML node as JSON (maps sorted by key, scalars as text), to compare
/// documents whatever order their keys were written in.
json asJson(const YAML::Node& n) {
  if (n.IsMap()) {
    json out = json::object();
    for (const auto& kv : n) out[kv.first.as<std::string>()] = asJson(kv.second);
    return out;
  }
  if (n.IsSequence()) {
    json out = json::array();
    for (const auto& item : n) out.push_back(asJson(item));
    return out;
  }
  return n.IsScalar() ? json(n.as<std::string>()) : json();
}

// ------------------------------------------------------------ rule file

class RuleFile : public ::testing::Test {
 protected:
  void SetUp() override {
    promtool_ = findOnPath("promtool");
    if (promtool_.empty()) GTEST_SKIP() << "promtool not found (Debian package prometheus)";
  }
  std::string promtool_;
};

TEST_F(RuleFile, PassesPromtoolCheck) {
  auto r = run(shellQuoted(promtool_) + " check rules " + shellQuoted(kRuleFile));
  EXPECT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("SUCCESS"), std::string::npos) << r.output;
}

TEST_F(RuleFile, PassesItsPromtoolUnitTests) {
  // promtool resolves rule_files relative to the test file's directory.
  auto r = run("cd " + shellQuoted(kSourceDir + "/tests/integration/monitoring") + " && " +
               shellQuoted(promtool_) + " test rules shoal-rules.test.yaml");
  EXPECT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("SUCCESS"), std::string::npos) << r.output;
}

/// Every alert has summary, description and a runbook_url whose anchor is a
/// section of docs/runbook.md, and a promtool test that expects it to fire;
/// every recording rule has a promtool test of its value.
TEST(RuleCoverage, EveryAlertHasItsRunbookSectionAndEveryRuleAUnitTest) {
  const YAML::Node rules = YAML::LoadFile(kRuleFile);
  const YAML::Node tests = YAML::LoadFile(kRuleTests);
  const std::string runbook = readFile(kSourceDir + "/docs/runbook.md");
  std::set<std::string> firing, recordTested;
  for (const auto& t : tests["tests"]) {
    for (const auto& a : t["alert_rule_test"]) {
      if (a["exp_alerts"].size() > 0) firing.insert(a["alertname"].as<std::string>());
    }
    for (const auto& e : t["promql_expr_test"]) recordTested.insert(e["expr"].as<std::string>());
  }
  int alerts = 0, records = 0;
  for (const auto& g : rules["groups"]) {
    for (const auto& r : g["rules"]) {
      if (r["record"]) {
        ++records;
        const auto name = r["record"].as<std::string>();
        EXPECT_TRUE(recordTested.count(name)) << "no promql_expr_test for " << name;
        continue;
      }
      ++alerts;
      const auto name = r["alert"].as<std::string>();
      const YAML::Node a = r["annotations"];
      for (const char* key : {"summary", "description", "runbook_url"}) {
        EXPECT_TRUE(a[key] && !a[key].as<std::string>().empty()) << name << " has no " << key;
      }
      EXPECT_TRUE(r["labels"]["severity"]) << name << " has no severity";
      const std::string url = a["runbook_url"].as<std::string>("");
      EXPECT_EQ(url, "https://github.com/shoal-dev/shoal/blob/main/docs/runbook.md#" + lower(name))
          << name;
      EXPECT_NE(runbook.find("\n## " + name + "\n"), std::string::npos)
          << "docs/runbook.md has no section \"## " << name << "\"";
      EXPECT_TRUE(firing.count(name)) << "no promtool test expects " << name << " to fire";
    }
  }
  EXPECT_EQ(alerts, 8);
  EXPECT_GE(records, 5);
}

/// Every metric the rules and the dashboard use is one Shoal exports (named
/// in the README's metrics reference) or kube-state-metrics' restart counter.
TEST(RuleCoverage, RulesAndDashboardUseOnlyMetricsThatExist) {
  const std::string readme = readFile(kSourceDir + "/README.md");
  const std::string reference = readme.substr(readme.find("## Metrics reference"));
  std::vector<std::pair<std::string, std::string>> exprs;  // where, expr
  for (const auto& g : YAML::LoadFile(kRuleFile)["groups"]) {
    for (const auto& r : g["rules"]) {
      exprs.emplace_back(r["record"] ? r["record"].as<std::string>() : r["alert"].as<std::string>(),
                         r["expr"].as<std::string>());
    }
  }
  for (const auto& q : dashboardQueries(json::parse(readFile(kDashboardFile)))) {
    exprs.emplace_back(q.panel + " " + q.refId, q.expr);
  }
  std::set<std::string> used;
  for (const auto& [where, expr] : exprs) {
    for (const auto& name : metricNames(expr)) {
      used.insert(name);
      if (name == "kube_pod_container_status_restarts_total") continue;
      EXPECT_NE(reference.find("`" + name + "`"), std::string::npos)
          << where << " uses " << name << ", which the README's metrics reference does not name";
    }
  }
  EXPECT_GE(used.size(), 20u);
}

// ------------------------------------------------------------ dashboard

TEST(Dashboard, IsACurrentGrafanaDashboardTemplatedByDatasourceNamespaceAndPool) {
  const json d = json::parse(readFile(kDashboardFile));
  EXPECT_GE(d.value("schemaVersion", 0), 39);
  EXPECT_FALSE(d.value("uid", "").empty());
  EXPECT_FALSE(d.value("title", "").empty());
  std::map<std::string, json> vars;
  for (const auto& v : d["templating"]["list"]) vars[v["name"]] = v;
  ASSERT_TRUE(vars.count("datasource") && vars.count("namespace") && vars.count("pool"));
  EXPECT_EQ(vars["datasource"]["type"], "datasource");
  EXPECT_EQ(vars["datasource"]["query"], "prometheus");
  for (const char* name : {"namespace", "pool"}) {
    const json& v = vars[name];
    EXPECT_EQ(v["type"], "query") << name;
    EXPECT_EQ(v["datasource"]["uid"], "${datasource}") << name;
    EXPECT_EQ(v["query"]["query"].get<std::string>().rfind("label_values(", 0), 0u) << name;
    EXPECT_TRUE(v.value("includeAll", false) && v.value("multi", false)) << name;
  }
  const json& poolVar = vars["pool"];
  EXPECT_NE(poolVar["query"]["query"].get<std::string>().find("$namespace"), std::string::npos)
      << "the pool list follows the chosen namespaces";

  std::set<int> ids;
  std::set<std::string> titles;
  for (const auto& p : d["panels"]) {
    EXPECT_TRUE(ids.insert(p["id"].get<int>()).second) << "duplicate panel id " << p["id"];
    for (const char* k : {"x", "y", "w", "h"}) EXPECT_TRUE(p["gridPos"].contains(k)) << p["title"];
    if (p["type"] == "row") continue;
    titles.insert(p["title"]);
    EXPECT_EQ(p["datasource"]["uid"], "${datasource}") << p["title"];
    EXPECT_EQ(p["datasource"]["type"], "prometheus") << p["title"];
    ASSERT_FALSE(p["targets"].empty()) << p["title"];
    for (const auto& t : p["targets"]) {
      EXPECT_EQ(t["datasource"]["uid"], "${datasource}") << p["title"];
      EXPECT_FALSE(t.value("expr", "").empty()) << p["title"];
    }
  }
  // What issue 17 asks the dashboard to show.
  for (const char* t : {"Backlog: lag and pending", "Arrival vs consumption rate",
                        "Replicas: desired, running, ready", "Estimated drain time",
                        "Scaling decisions", "Scaling reasons", "Delivery rate",
                        "Retries and reclaims", "Dead-lettered by reason", "Sink latency",
                        "Redis errors"}) {
    EXPECT_TRUE(titles.count(t)) << "no panel " << t;
  }
  // Pool panels follow the template variables.
  for (const auto& q : dashboardQueries(d)) {
    if (q.legendLabels.count("pool")) {
      EXPECT_TRUE(q.selectsNamespace) << q.panel << " " << q.refId << ": " << q.expr;
      EXPECT_NE(q.expr.find("pool=~\"$pool\""), std::string::npos) << q.panel << " " << q.refId;
    }
  }
}

// ------------------------------------------------------------ the chart

class ChartMonitoring : public ::testing::Test {
 protected:
  void SetUp() override {
    helm_ = testing::findK8sBinary("helm");
    if (helm_.empty()) GTEST_SKIP() << "helm not found (scripts/k8s-binaries.sh builds it)";
    promtool_ = findOnPath("promtool");
  }
  /// helm with its cache, config and data in a scratch directory.
  ToolRun helm(const std::string& args) {
    return run("env HELM_CACHE_HOME=" + shellQuoted(dir_.file("cache")) +
               " HELM_CONFIG_HOME=" + shellQuoted(dir_.file("config")) +
               " HELM_DATA_HOME=" + shellQuoted(dir_.file("data")) + " " + shellQuoted(helm_) +
               " " + args);
  }
  std::vector<YAML::Node> render(const std::string& sets) {
    auto r = helm("template shoal " + shellQuoted(kSourceDir + "/charts/shoal") +
                  " --namespace shoal-system " + sets);
    EXPECT_EQ(r.exitCode, 0) << r.output;
    std::vector<YAML::Node> docs;
    for (const auto& doc : YAML::LoadAll(r.output)) {
      if (doc.IsMap()) docs.push_back(doc);
    }
    return docs;
  }
  static std::vector<YAML::Node> ofKind(const std::vector<YAML::Node>& docs,
                                        const std::string& kind) {
    std::vector<YAML::Node> out;
    for (const auto& d : docs) {
      if (d["kind"].as<std::string>("") == kind) out.push_back(d);
    }
    return out;
  }

  std::string helm_, promtool_;
  testing::TempDir dir_;
};

const std::string kAllOn =
    "--set dashboards.enabled=true --set prometheusRule.enabled=true --set podMonitor.enabled=true";

TEST_F(ChartMonitoring, LintStrictIsCleanWithEverythingOn) {
  auto r = helm("lint --strict " + shellQuoted(kSourceDir + "/charts/shoal") + " " + kAllOn +
                " --set prometheusRule.deadLetterRateThreshold=0.5");
  EXPECT_EQ(r.exitCode, 0) << r.output;
}

TEST_F(ChartMonitoring, NothingOfItByDefault) {
  const auto docs = render("");
  EXPECT_TRUE(ofKind(docs, "PrometheusRule").empty());
  EXPECT_TRUE(ofKind(docs, "PodMonitor").empty());
  EXPECT_TRUE(ofKind(docs, "ConfigMap").empty());
}

TEST_F(ChartMonitoring, DashboardConfigMapCarriesTheSidecarLabelAndTheExactJson) {
  auto docs = render(kAllOn);
  auto cms = ofKind(docs, "ConfigMap");
  ASSERT_EQ(cms.size(), 1u);
  EXPECT_EQ(cms[0]["metadata"]["labels"]["grafana_dashboard"].as<std::string>(""), "1");
  EXPECT_EQ(cms[0]["metadata"]["namespace"].as<std::string>(""), "shoal-system");
  EXPECT_EQ(json::parse(cms[0]["data"]["shoal.json"].as<std::string>()),
            json::parse(readFile(kDashboardFile)));

  docs = render(kAllOn + " --set dashboards.label=my_dashboards" +
                " --set dashboards.labelValue=shoal --set dashboards.namespace=monitoring" +
                " --set dashboards.annotations.grafana_folder=Shoal");
  cms = ofKind(docs, "ConfigMap");
  ASSERT_EQ(cms.size(), 1u);
  const YAML::Node meta = cms[0]["metadata"];
  EXPECT_EQ(meta["labels"]["my_dashboards"].as<std::string>(""), "shoal");
  EXPECT_FALSE(meta["labels"]["grafana_dashboard"]);
  EXPECT_EQ(meta["namespace"].as<std::string>(""), "monitoring");
  EXPECT_EQ(meta["annotations"]["grafana_folder"].as<std::string>(""), "Shoal");
}

TEST_F(ChartMonitoring, PrometheusRuleHoldsTheRuleFileWithTheThresholdFromValues) {
  const auto docs = render(kAllOn + " --set prometheusRule.deadLetterRateThreshold=0.25" +
                           " --set prometheusRule.labels.release=kube-prometheus-stack");
  const auto prs = ofKind(docs, "PrometheusRule");
  ASSERT_EQ(prs.size(), 1u);
  const YAML::Node pr = prs[0];
  EXPECT_EQ(pr["apiVersion"].as<std::string>(""), "monitoring.coreos.com/v1");
  EXPECT_EQ(pr["metadata"]["labels"]["release"].as<std::string>(""), "kube-prometheus-stack");

  // The same groups and rules as the file, only the threshold changed.
  const YAML::Node file = YAML::LoadFile(kRuleFile)["groups"];
  const YAML::Node groups = pr["spec"]["groups"];
  ASSERT_EQ(groups.size(), file.size());
  int thresholds = 0;
  for (size_t g = 0; g < file.size(); ++g) {
    ASSERT_EQ(groups[g]["rules"].size(), file[g]["rules"].size());
    for (size_t i = 0; i < file[g]["rules"].size(); ++i) {
      const YAML::Node want = file[g]["rules"][i];
      const YAML::Node got = groups[g]["rules"][i];
      if (want["record"].as<std::string>("") == "shoal:dead_letter_rate_threshold:per_second") {
        ++thresholds;
        EXPECT_EQ(got["expr"].as<std::string>(), "vector(0.25)");
        continue;
      }
      EXPECT_EQ(asJson(got), asJson(want));
    }
  }
  EXPECT_EQ(thresholds, 1);

  // What Prometheus would load from it is valid.
  if (promtool_.empty()) GTEST_SKIP() << "promtool not found: the rendered rules were not checked";
  {
    YAML::Node ruleFile;
    ruleFile["groups"] = groups;
    std::ofstream(dir_.file("rendered-rules.yaml")) << YAML::Dump(ruleFile) << "\n";
  }
  auto r = run(shellQuoted(promtool_) + " check rules " +
               shellQuoted(dir_.file("rendered-rules.yaml")));
  EXPECT_EQ(r.exitCode, 0) << r.output;
}

TEST_F(ChartMonitoring, MonitorsGiveTheLabelsTheDashboardSelectsOn) {
  const auto docs = render(kAllOn + " --set serviceMonitor.enabled=true");
  const auto sms = ofKind(docs, "ServiceMonitor");
  ASSERT_EQ(sms.size(), 1u);
  // The pool series' own namespace label wins over the operator pod's.
  EXPECT_TRUE(sms[0]["spec"]["endpoints"][0]["honorLabels"].as<bool>(false));
  const auto pms = ofKind(docs, "PodMonitor");
  ASSERT_EQ(pms.size(), 1u);
  const YAML::Node spec = pms[0]["spec"];
  EXPECT_EQ(spec["selector"]["matchLabels"]["app.kubernetes.io/name"].as<std::string>(""),
            "shoal-worker");
  EXPECT_TRUE(spec["namespaceSelector"]["any"].as<bool>(false));
  const YAML::Node ep = spec["podMetricsEndpoints"][0];
  EXPECT_EQ(ep["port"].as<std::string>(""), "http");
  EXPECT_EQ(ep["relabelings"][0]["sourceLabels"][0].as<std::string>(""),
            "__meta_kubernetes_pod_label_shoal_dev_worker_pool");
  EXPECT_EQ(ep["relabelings"][0]["targetLabel"].as<std::string>(""), "pool");
}

}  // namespace
}  // namespace shoal::monitoring_test
