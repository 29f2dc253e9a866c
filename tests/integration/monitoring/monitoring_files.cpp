// See monitoring_files.h.
#include "monitoring_files.h"

#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "shoal/testing/servers.h"

namespace shoal::monitoring_test {

std::string readFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<DashboardQuery> dashboardQueries(const nlohmann::json& dashboard) {
  std::vector<DashboardQuery> out;
  const std::regex legendLabel(R"(\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\})");
  for (const auto& panel : dashboard.value("panels", nlohmann::json::array())) {
    for (const auto& t : panel.value("targets", nlohmann::json::array())) {
      DashboardQuery q;
      q.panel = panel.value("title", "");
      q.refId = t.value("refId", "");
      q.expr = t.value("expr", "");
      const std::string legend = t.value("legendFormat", "");
      for (std::sregex_iterator it(legend.begin(), legend.end(), legendLabel), end; it != end;
           ++it) {
        q.legendLabels.insert((*it)[1]);
      }
      q.selectsNamespace = q.expr.find("namespace=~\"$namespace\"") != std::string::npos;
      out.push_back(std::move(q));
    }
  }
  return out;
}

namespace {
void replaceAll(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
}
}  // namespace

std::string substituteVariables(std::string expr, const std::string& namespaceRegex,
                                const std::string& poolRegex, const std::string& rateInterval) {
  replaceAll(expr, "$__rate_interval", rateInterval);
  replaceAll(expr, "$namespace", namespaceRegex);
  replaceAll(expr, "$pool", poolRegex);
  return expr;
}

std::set<std::string> metricNames(const std::string& expr) {
  std::set<std::string> out;
  // Not recording rules (level:metric:operations) or label names.
  const std::regex name(R"((^|[^:\w])((?:shoal|kube)_[a-z_]+)(?![:\w]))");
  for (std::sregex_iterator it(expr.begin(), expr.end(), name), end; it != end; ++it) {
    std::string n = (*it)[2];
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s = suffix;
      if (n.size() > s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0) {
        n.resize(n.size() - s.size());
      }
    }
    out.insert(n);
  }
  return out;
}

std::string findOnPath(const std::string& name) {
  int code = 0;
  std::string p = testing::runCommand("command -v " + name + " 2>/dev/null", false, &code);
  while (!p.empty() && (p.back() == '\n' || p.back() == ' ')) p.pop_back();
  return code == 0 ? p : "";
}

}  // namespace shoal::monitoring_test
