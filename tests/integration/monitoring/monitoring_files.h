// What the monitoring tests read from the repository: the rule file, its
// promtool tests, the dashboard and its queries, the metrics reference.
#pragma once

#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <vector>

namespace shoal::monitoring_test {

inline const std::string kSourceDir = SHOAL_SOURCE_DIR;
inline const std::string kRuleFile = kSourceDir + "/charts/shoal/rules/shoal-rules.yaml";
inline const std::string kRuleTests =
    kSourceDir + "/tests/integration/monitoring/shoal-rules.test.yaml";
inline const std::string kDashboardFile = kSourceDir + "/charts/shoal/dashboards/shoal.json";

std::string readFile(const std::string& path);

/// One query of the dashboard: where it is, its PromQL and the labels its
/// legend names ("{{namespace}}/{{pool}}" -> namespace, pool), which every
/// series it returns must carry.
struct DashboardQuery {
  std::string panel;
  std::string refId;
  std::string expr;
  std::set<std::string> legendLabels;
  bool selectsNamespace = false;  ///< the expr filters on $namespace
};
std::vector<DashboardQuery> dashboardQueries(const nlohmann::json& dashboard);

/// The PromQL Grafana sends for expr once the variables are chosen.
std::string substituteVariables(std::string expr, const std::string& namespaceRegex,
                                const std::string& poolRegex, const std::string& rateInterval);

/// The shoal_* and kube_* metric names an expression uses, recording rules
/// (a:b:c) left out, histogram _bucket/_sum/_count suffixes removed.
std::set<std::string> metricNames(const std::string& expr);

/// Where the promtool and helm binaries are, empty when missing.
std::string findOnPath(const std::string& name);

}  // namespace shoal::monitoring_test
