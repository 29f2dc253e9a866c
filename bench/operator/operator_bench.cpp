// Operator benchmarks on a real kube-apiserver + etcd and a real Redis:
//   operator_reaction_ms        XADD over the activation threshold -> the
//                               Deployment's spec.replicas changes (median of 5)
//   operator_rss_mib_100_pools  RSS of shoal-operator with 100 WorkerPools
//   operator_reconcile_p99_ms   p99 WorkerPool reconcile duration (from /metrics)
// Prints `bench: <name> <value> <unit>`; prints nothing (exit 0) when the
// control-plane binaries are missing.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "shoal/kube/client.h"
#include "shoal/redis/client.h"
#include "shoal/testing/kube_control_plane.h"
#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

using nlohmann::json;
using namespace std::chrono_literals;
namespace st = shoal::testing;

namespace {

const std::string kNs = "bench";

json pipelineObj(const std::string& name, int redisPort, const std::string& stream) {
  return {{"apiVersion", "shoal.dev/v1alpha1"},
          {"kind", "Pipeline"},
          {"metadata", {{"name", name}, {"namespace", kNs}}},
          {"spec",
           {{"type", "logs"},
            {"source",
             {{"redis",
               {{"address", "127.0.0.1:" + std::to_string(redisPort)}, {"stream", stream},
                {"startId", "0"}}}}},
            {"sink", {{"elasticsearch", {{"url", "http://127.0.0.1:9200"}, {"index", "logs"}}}}}}}};
}

json poolObj(const std::string& name, const std::string& pipeline) {
  return {{"apiVersion", "shoal.dev/v1alpha1"},
          {"kind", "WorkerPool"},
          {"metadata", {{"name", name}, {"namespace", kNs}}},
          {"spec",
           {{"pipelineRef", {{"name", pipeline}}},
            {"minReplicas", 1},
            {"maxReplicas", 10},
            {"scaling", {{"policy", "targetBacklogPerReplica"}, {"targetBacklogPerReplica", 10}}}}}};
}

int replicasOf(shoal::kube::Client& api, const std::string& name) {
  auto d = api.get(shoal::kube::Resource::deployments(), kNs, name);
  if (!d.ok()) return -1;
  return d.value()["spec"].value("replicas", -1);
}

double rssMiB(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return -1;
}

/// p99 from a Prometheus histogram's cumulative buckets (linear within a bucket).
double p99FromMetrics(const std::string& text, const std::string& controller) {
  std::vector<std::pair<double, double>> buckets;  // le, cumulative count
  std::istringstream in(text);
  std::string line;
  const std::string prefix = "shoal_operator_reconcile_duration_seconds_bucket{controller=\"" +
                             controller + "\",le=\"";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    auto rest = line.substr(prefix.size());
    auto q = rest.find('"');
    std::string le = rest.substr(0, q);
    double count = std::stod(rest.substr(rest.find(' ') + 1));
    buckets.emplace_back(le == "+Inf" ? 1e9 : std::stod(le), count);
  }
  std::sort(buckets.begin(), buckets.end());
  if (buckets.empty() || buckets.back().second <= 0) return -1;
  double target = 0.99 * buckets.back().second;
  double prevLe = 0, prevCount = 0;
  for (auto [le, count] : buckets) {
    if (count >= target) {
      if (le >= 1e9) return prevLe;
      double frac = count > prevCount ? (target - prevCount) / (count - prevCount) : 1;
      return prevLe + frac * (le - prevLe);
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

}  // namespace

int main() {
  if (auto why = st::KubeControlPlane::missing()) {
    std::cerr << "operator bench skipped: " << *why << "\n";
    return 0;
  }
  st::KubeControlPlane cp;
  st::RedisServer redis;
  st::TempDir dir;
  const std::string src = SHOAL_SOURCE_DIR;
  cp.kubectl({"apply", "-f", src + "/crds/shoal.dev_pipelines.yaml", "-f",
              src + "/crds/shoal.dev_workerpools.yaml"});
  cp.kubectl({"wait", "--for=condition=Established", "--timeout=60s", "crd/pipelines.shoal.dev",
              "crd/workerpools.shoal.dev"});
  cp.kubectl({"create", "namespace", kNs});
  auto cfg = shoal::kube::loadKubeconfigFile(cp.kubeconfig());
  auto client = shoal::kube::makeHttpClient(cfg.value());
  shoal::kube::Client& api = *client.value();

  const int metricsPort = st::freePort();
  st::Process::Options po;
  po.argv = {std::string(SHOAL_BINARY_DIR) + "/operator/cmd/shoal-operator", "--kubeconfig",
             cp.kubeconfig(), "--namespace", kNs, "--metrics-bind-address",
             "127.0.0.1:" + std::to_string(metricsPort), "--health-probe-bind-address",
             "127.0.0.1:" + std::to_string(st::freePort()), "--log-level", "warn"};
  po.stderrPath = dir.file("operator.log");
  st::Process op(po);

  // 10 Pipelines (one stream each), 100 WorkerPools (10 per Pipeline).
  std::string docs;
  for (int p = 0; p < 10; ++p) {
    docs += pipelineObj("p" + std::to_string(p), redis.port(), "s" + std::to_string(p)).dump() + "\n";
    for (int w = 0; w < 10; ++w) {
      docs += poolObj("w" + std::to_string(p) + "-" + std::to_string(w), "p" + std::to_string(p))
                  .dump() + "\n";
    }
  }
  auto r = cp.kubectl({"apply", "-f", "-"}, docs);
  if (r.exitCode != 0) {
    std::cerr << "apply failed: " << r.err << "\n";
    return 1;
  }
  bool allThere = st::waitUntil([&] {
    auto l = api.list(shoal::kube::Resource::deployments(), kNs);
    return l.ok() && l.value().items.size() >= 100;
  }, 120s, 250ms);
  if (!allThere) {
    std::cerr << "not all Deployments appeared\n" << st::Process::readFile(dir.file("operator.log"));
    return 1;
  }
  // Let every pool run a few polls (default 2 s) before measuring.
  st::waitUntil([] { return false; }, 10s, 1s);
  const double rss = rssMiB(op.pid());

  // Reaction: one pool per stream; XADD 100 entries (10 per replica -> 10).
  shoal::redis::ConnectionOptions ro;
  ro.port = redis.port();
  shoal::redis::Client rc(ro, shoal::SystemClock::instance());
  std::vector<double> reactions;
  for (int p = 0; p < 5; ++p) {
    const std::string stream = "s" + std::to_string(p);
    std::vector<shoal::redis::Command> cmds;
    for (int i = 0; i < 100; ++i) cmds.push_back({"XADD", stream, "*", "m", std::to_string(i)});
    auto t0 = std::chrono::steady_clock::now();
    rc.pipeline(cmds);
    const std::string pool = "w" + std::to_string(p) + "-0";
    if (st::waitUntil([&] { return replicasOf(api, pool) > 1; }, 20s, 5ms)) {
      reactions.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  std::string metrics = st::httpGet(metricsPort, "/metrics");
  double p99 = p99FromMetrics(metrics, "workerpool");

  if (!reactions.empty()) {
    std::sort(reactions.begin(), reactions.end());
    std::printf("bench: operator_reaction_ms %.0f ms\n", reactions[reactions.size() / 2]);
  }
  std::printf("bench: operator_rss_mib_100_pools %.1f MiB\n", rss);
  if (p99 >= 0) std::printf("bench: operator_reconcile_p99_ms %.1f ms\n", p99 * 1000.0);
  op.stop();
  return 0;
}
