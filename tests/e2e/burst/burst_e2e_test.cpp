// End to end on a real control plane: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler, with shoal-node-agent as the
// kubelet (Pods run as local processes). Two stories:
//  - NodeAgent: a Pod with a shoal-worker image becomes Running and Ready,
//    really consumes (one entry reaches the sink), and on delete gets SIGTERM,
//    exits 0 within the grace period and disappears; a crash (kill -9) is
//    restarted with restartCount 1.
//  - Burst: `helm install` of charts/shoal (CRDs, ServiceAccount, RBAC and the
//    operator Deployment, whose pod the scheduler binds to the agent's node
//    and the agent runs in a private mount namespace with its projected
//    service-account token: the operator talks to the API server in-cluster,
//    under the chart's RBAC); a Pipeline and WorkerPool applied with kubectl;
//    a burst from shoal-loadgen makes replicas rise, the backlog drains into
//    shoal-bulk-server exactly once by id with no 409 conflicts (scale-in
//    redelivers nothing), and replicas fall back; `kubectl describe
//    workerpool` is printed; `helm uninstall` stops the operator with SIGTERM.
// Skips (GTEST_SKIP) when the k8s binaries (helm too, for Burst) or Shoal's
// binaries are missing, or when mount namespaces are unavailable (not root).
// Binaries come from this build tree or the environment (SHOAL_WORKER_BIN,
// SHOAL_OPERATOR_BIN, SHOAL_BULK_SERVER_BIN, SHOAL_LOADGEN_BIN,
// SHOAL_NODE_AGENT_BIN) so a build that lacks one can borrow it.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "shoal/testing/kube_control_plane.h"
#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

using namespace std::chrono_literals;
using nlohmann::json;
using shoal::testing::KubeControlPlane;
using shoal::testing::Process;
using shoal::testing::RedisServer;
using shoal::testing::TempDir;
using shoal::testing::waitUntil;

namespace {

std::string binary(const char* envVar, const std::string& relPath) {
  if (const char* v = std::getenv(envVar); v && *v) return access(v, X_OK) == 0 ? v : "";
  std::string p = std::string(SHOAL_BINARY_DIR) + "/" + relPath;
  return access(p.c_str(), X_OK) == 0 ? p : "";
}

struct Binaries {
  std::string agent = binary("SHOAL_NODE_AGENT_BIN", "tests/e2e/node_agent/shoal-node-agent");
  std::string worker = binary("SHOAL_WORKER_BIN", "runtime/worker/shoal-worker");
  std::string operator_ = binary("SHOAL_OPERATOR_BIN", "operator/cmd/shoal-operator");
  std::string bulk = binary("SHOAL_BULK_SERVER_BIN", "tests/tools/bulk_server/shoal-bulk-server");
  std::string loadgen = binary("SHOAL_LOADGEN_BIN", "runtime/loadgen/shoal-loadgen");

  std::string missing(bool withOperator) const {
    std::string m;
    auto need = [&](const std::string& p, const char* name) {
      if (p.empty()) m += (m.empty() ? "" : ", ") + std::string(name);
    };
    need(agent, "shoal-node-agent");
    need(worker, "shoal-worker");
    need(bulk, "shoal-bulk-server");
    if (withOperator) {
      need(operator_, "shoal-operator");
      need(loadgen, "shoal-loadgen");
    }
    return m;
  }
};

KubeControlPlane::Options controlPlaneOptions() {
  KubeControlPlane::Options o;
  o.controllerManager = true;
  o.scheduler = true;
  // Pods get the kube-api-access projected volume, as in a real cluster.
  o.serviceAccountAdmission = true;
  return o;
}

// Whether this process may create a private mount namespace (what the node
// agent needs to run the operator pod like a container).
bool mountNamespacesAvailable() {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS | CLONE_NEWUTS) != 0) _exit(1);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(2);
    _exit(0);
  }
  int status = 0;
  return pid > 0 && ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
         WEXITSTATUS(status) == 0;
}

std::string shellQuote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

// One control plane (with scheduler) and one node agent per test binary.
struct Cluster {
  KubeControlPlane cp{controlPlaneOptions()};
  TempDir agentDir;
  Process agent;
  std::string agentLog = agentDir.file("agent.log");

  explicit Cluster(const Binaries& b) {
    std::vector<std::string> argv = {b.agent,       "--kubeconfig",   cp.kubeconfig(),
                                     "--node-name", "shoal-e2e-node", "--worker-binary",
                                     b.worker,      "--root-dir",     agentDir.file("pods")};
    if (!b.operator_.empty()) {
      argv.push_back("--operator-binary");
      argv.push_back(b.operator_);
    }
    agent = Process(Process::Options{
        .argv = argv, .stdoutPath = agentDir.file("agent.out"), .stderrPath = agentLog});
  }
  // The container log of the first pod whose directory starts with ns_name.
  std::string podLog(const std::string& nsAndNamePrefix) const {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(agentDir.file("pods"), ec)) {
      if (e.path().filename().string().rfind(nsAndNamePrefix, 0) == 0) {
        return Process::readFile(e.path().string() + "/container.log");
      }
    }
    return "";
  }
  ~Cluster() { agent.stop(15s); }
};

Cluster& cluster(const Binaries& b) {
  static std::unique_ptr<Cluster> c;
  static std::once_flag once;
  std::call_once(once, [&] {
    c = std::make_unique<Cluster>(b);
    std::atexit([] { c.reset(); });
  });
  return *c;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string jsonpath(const KubeControlPlane& cp, const std::vector<std::string>& what,
                     const std::string& path) {
  std::vector<std::string> args = {"get"};
  args.insert(args.end(), what.begin(), what.end());
  args.push_back("-o");
  args.push_back("jsonpath=" + path);
  auto r = cp.kubectl(args);
  return r.exitCode == 0 ? trim(r.out) : "";
}

bool nodeReady(const KubeControlPlane& cp) {
  return jsonpath(cp, {"node", "shoal-e2e-node"},
                  "{.status.conditions[?(@.type==\"Ready\")].status}") == "True";
}

json bulkStats(int port, bool ids) {
  int status = 0;
  std::string body = shoal::testing::httpGet(
      port, std::string("/_shoal/stats") + (ids ? "?ids=true" : ""), &status);
  if (status != 200) return json();
  return json::parse(body, nullptr, false);
}

int64_t totalDocs(int port) {
  auto s = bulkStats(port, false);
  return s.is_object() ? s.value("totalDocs", int64_t{-1}) : -1;
}

Process startBulkServer(const Binaries& b, const TempDir& dir, int port) {
  return Process(Process::Options{.argv = {b.bulk, "--port", std::to_string(port)},
                                  .stdoutPath = dir.file("bulk.out"),
                                  .stderrPath = dir.file("bulk.err")});
}

std::string readFile(const std::string& path) {
  return Process::readFile(path);
}

// The last line of a JSON log containing both needles ("" if none).
std::string lastLogLine(const std::string& log, const std::string& a, const std::string& b) {
  std::istringstream in(log);
  std::string found;
  for (std::string line; std::getline(in, line);) {
    if (line.find(a) != std::string::npos && line.find(b) != std::string::npos) found = line;
  }
  return found;
}

// The first line of a JSON log containing both needles ("" if none).
std::string logLine(const std::string& log, const std::string& a, const std::string& b) {
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find(a) != std::string::npos && line.find(b) != std::string::npos) return line;
  }
  return "";
}

class E2E : public ::testing::Test {
 protected:
  void requireAll(bool withOperator) {
    if (auto why = KubeControlPlane::missing(controlPlaneOptions())) {
      GTEST_SKIP() << "control plane binaries missing: " << *why
                   << " (run scripts/k8s-binaries.sh)";
    }
    std::string m = b_.missing(withOperator);
    if (!m.empty()) GTEST_SKIP() << "binaries missing: " << m << " (build them or set SHOAL_*_BIN)";
    if (withOperator) {
      if (helm_.empty()) {
        GTEST_SKIP() << "helm missing: not in $KUBEBUILDER_ASSETS or <build>/k8s-bin "
                        "(run scripts/k8s-binaries.sh)";
      }
      if (!mountNamespacesAvailable()) {
        GTEST_SKIP() << "mount namespaces unavailable (run as root): the node agent runs the "
                        "chart's operator pod in a private mount namespace";
      }
    }
  }
  std::string helm_ = shoal::testing::findK8sBinary("helm");
  Binaries b_;
};

TEST_F(E2E, NodeAgentRunsAWorkerPodAndTerminatesItGracefullyOnDelete) {
  requireAll(false);
  if (IsSkipped()) return;
  auto& c = cluster(b_);
  auto& cp = c.cp;
  ASSERT_TRUE(waitUntil([&] { return nodeReady(cp); }, 60s, 200ms)) << readFile(c.agentLog);
  ASSERT_TRUE(cp.waitForDefaultServiceAccount("default"));

  RedisServer redis;
  TempDir dir;
  int bulkPort = shoal::testing::freePort();
  Process bulk = startBulkServer(b_, dir, bulkPort);
  ASSERT_TRUE(waitUntil([&] { return totalDocs(bulkPort) >= 0; }, 10s));

  std::ostringstream y;
  y << "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: agent-test-config\ndata:\n"
    << "  pipeline.yaml: |\n"
    << "    apiVersion: shoal.dev/v1alpha1\n    kind: Pipeline\n    metadata:\n      name: t\n"
    << "    spec:\n      type: logs\n      source:\n        redis:\n"
    << "          address: 127.0.0.1:" << redis.port() << "\n"
    << "          stream: logs:agent\n          consumerGroup: g\n          startId: \"0\"\n"
    << "          blockMs: 200\n"
    << "      transform:\n        logs:\n          format: auto\n"
    << "      sink:\n        elasticsearch:\n          url: http://127.0.0.1:" << bulkPort
    << "\n          index: agent\n"
    << "      delivery:\n        batchSize: 10\n        lingerMs: 5\n"
    << "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: agent-test\nspec:\n"
    << "  terminationGracePeriodSeconds: 20\n"
    << "  containers:\n  - name: worker\n    image: example.org/shoal-worker:test\n"
    << "    command: [shoal-worker]\n"
    << "    args: [--config, /etc/shoal/pipeline.yaml, --listen, \"0.0.0.0:9100\"]\n"
    << "    env:\n    - name: SHOAL_CONSUMER_NAME\n      valueFrom:\n        fieldRef:\n"
    << "          fieldPath: metadata.name\n"
    << "    readinessProbe:\n      httpGet:\n        path: /readyz\n        port: 9100\n"
    << "    volumeMounts:\n    - name: config\n      mountPath: /etc/shoal\n"
    << "  volumes:\n  - name: config\n    configMap:\n      name: agent-test-config\n";
  auto applied = cp.kubectl({"apply", "-f", "-"}, y.str());
  ASSERT_EQ(applied.exitCode, 0) << applied.err;

  ASSERT_TRUE(waitUntil(
      [&] {
        return jsonpath(cp, {"pod", "agent-test"},
                        "{.status.phase}/{.status.conditions[?(@.type==\"Ready\")].status}") ==
               "Running/True";
      },
      60s, 200ms))
      << cp.kubectl({"get", "pod", "agent-test", "-o", "yaml"}).out << readFile(c.agentLog);
  EXPECT_EQ(jsonpath(cp, {"pod", "agent-test"}, "{.spec.nodeName}"), "shoal-e2e-node");

  // The worker really runs with the pod's config, env and volume: it consumes.
  redis.cli("XADD logs:agent '*' message '{\"message\":\"hello\"}'");
  ASSERT_TRUE(waitUntil([&] { return totalDocs(bulkPort) == 1; }, 30s, 100ms))
      << readFile(c.agentLog);
  // SHOAL_CONSUMER_NAME came from the downward API: the group's consumer is the pod.
  EXPECT_NE(redis.cli("XINFO CONSUMERS logs:agent g").find("agent-test"), std::string::npos);

  // A crashed process is restarted (restartPolicy Always) and counted.
  std::string started =
      logLine(readFile(c.agentLog), "\"msg\":\"started pod process\"", "agent-test");
  ASSERT_FALSE(started.empty());
  pid_t pid = json::parse(started).value("pid", -1);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  ASSERT_TRUE(waitUntil(
      [&] {
        return jsonpath(cp, {"pod", "agent-test"},
                        "{.status.containerStatuses[0].restartCount}/"
                        "{.status.conditions[?(@.type==\"Ready\")].status}") == "1/True";
      },
      60s, 200ms))
      << cp.kubectl({"get", "pod", "agent-test", "-o", "yaml"}).out << readFile(c.agentLog);

  auto del = cp.kubectl({"delete", "pod", "agent-test", "--wait=false"});
  ASSERT_EQ(del.exitCode, 0) << del.err;
  ASSERT_TRUE(waitUntil(
      [&] {
        auto r = cp.kubectl({"get", "pod", "agent-test"});
        return r.exitCode != 0 && r.err.find("NotFound") != std::string::npos;
      },
      60s, 200ms))
      << readFile(c.agentLog);
  std::string log = readFile(c.agentLog);
  std::string sigterm = logLine(log, "\"msg\":\"SIGTERM sent\"", "agent-test");
  EXPECT_EQ(log.find("\"code\":137"), log.rfind("\"code\":137"))  // only the crash we caused
      << log;
  ASSERT_FALSE(sigterm.empty()) << log;
  EXPECT_NE(sigterm.find("\"graceSeconds\":20"), std::string::npos) << sigterm;
  // Exit code 0: the worker drained on SIGTERM; 137 would mean SIGKILL.
  std::string exited = lastLogLine(log, "\"msg\":\"pod process exited\"", "agent-test");
  ASSERT_FALSE(exited.empty()) << log;
  EXPECT_NE(exited.find("\"code\":0"), std::string::npos) << exited;
  EXPECT_EQ(log.find("grace period over, SIGKILL"), std::string::npos) << log;
}

TEST_F(E2E, BurstScalesUpDrainsExactlyOnceAndScalesBackDown) {
  requireAll(true);
  if (IsSkipped()) return;
  auto& c = cluster(b_);
  auto& cp = c.cp;
  ASSERT_TRUE(waitUntil([&] { return nodeReady(cp); }, 60s, 200ms)) << readFile(c.agentLog);
  ASSERT_TRUE(cp.waitForDefaultServiceAccount("default"));

  RedisServer redis;
  TempDir dir;
  int bulkPort = shoal::testing::freePort();
  Process bulk = startBulkServer(b_, dir, bulkPort);
  ASSERT_TRUE(waitUntil([&] { return totalDocs(bulkPort) >= 0; }, 10s));

  // The operator, installed with the chart: CRDs from its crds/, then the
  // ServiceAccount, RBAC and Deployment. The images are the ones the node
  // agent maps to the local binaries; --wait returns once the operator pod,
  // scheduled onto the agent's node, is Ready.
  const std::string kReleaseNs = "shoal-system";
  auto helm = [&](const std::vector<std::string>& args) {
    std::string cmd = "env HELM_CACHE_HOME=" + shellQuote(dir.file("helm-cache")) +
                      " HELM_CONFIG_HOME=" + shellQuote(dir.file("helm-config")) +
                      " HELM_DATA_HOME=" + shellQuote(dir.file("helm-data")) + " " +
                      shellQuote(helm_) + " --kubeconfig " + shellQuote(cp.kubeconfig());
    for (const auto& a : args) cmd += " " + shellQuote(a);
    int code = -1;
    std::string out = shoal::testing::runCommand(cmd + " 2>&1", false, &code);
    return std::make_pair(code, out);
  };
  auto opLogs = [&] { return c.podLog(kReleaseNs + "_"); };
  auto [installed, installOut] = helm(
      {"install", "shoal", std::string(SHOAL_SOURCE_DIR) + "/charts/shoal", "--namespace",
       kReleaseNs, "--create-namespace", "--set", "image.repository=example.org/shoal-operator",
       "--set", "image.tag=e2e", "--set", "workerImage.repository=example.org/shoal-worker",
       "--set", "workerImage.tag=e2e", "--wait", "--timeout", "120s"});
  ASSERT_EQ(installed, 0) << installOut << "\n"
                          << cp.kubectl({"get", "pods", "-A", "-o", "wide"}).out
                          << cp.kubectl({"describe", "pods", "-n", kReleaseNs}).out << opLogs()
                          << readFile(c.agentLog);
  auto est = cp.kubectl({"wait", "--for=condition=Established", "--timeout=60s",
                         "crd/pipelines.shoal.dev", "crd/workerpools.shoal.dev"});
  ASSERT_EQ(est.exitCode, 0) << est.err;

  // The operator pod: bound by the scheduler to the agent's node, running as
  // the chart's ServiceAccount with the admission-added token volume.
  const std::vector<std::string> opPods = {"pods", "-n", kReleaseNs, "-l",
                                           "app.kubernetes.io/name=shoal"};
  std::string opPod = jsonpath(cp, opPods, "{.items[0].metadata.name}");
  ASSERT_FALSE(opPod.empty()) << cp.kubectl({"get", "pods", "-A"}).out;
  EXPECT_EQ(jsonpath(cp, opPods, "{.items[0].spec.nodeName}"), "shoal-e2e-node");
  EXPECT_EQ(jsonpath(cp, opPods, "{.items[0].spec.serviceAccountName}"), "shoal");
  EXPECT_EQ(jsonpath(cp, opPods, "{.items[0].status.phase}"), "Running");
  EXPECT_NE(jsonpath(cp, opPods, "{.items[0].spec.volumes[*].name}").find("kube-api-access-"),
            std::string::npos);
  // It reached the API server in-cluster with its own token and leads
  // (identity: its hostname, which is the pod name, plus a suffix).
  ASSERT_TRUE(waitUntil(
      [&] {
        return cp.kubectl({"get", "leases", "-n", kReleaseNs, "-o",
                           "jsonpath={.items[*].spec.holderIdentity}"})
                   .out.rfind(opPod + "_", 0) == 0;
      },
      60s, 250ms))
      << cp.kubectl({"get", "leases", "-n", kReleaseNs, "-o", "yaml"}).out << opLogs();

  constexpr int kBurst = 20000;
  std::ostringstream y;
  y << "apiVersion: shoal.dev/v1alpha1\nkind: Pipeline\nmetadata:\n  name: burst\nspec:\n"
    << "  type: logs\n  source:\n    redis:\n"
    << "      address: 127.0.0.1:" << redis.port() << "\n"
    << "      stream: logs:burst\n      consumerGroup: shoal-burst\n      startId: \"0\"\n"
    << "      maxDeliveries: 5\n      blockMs: 200\n"
    << "  transform:\n    logs:\n      format: auto\n"
    << "  sink:\n    elasticsearch:\n      url: http://127.0.0.1:" << bulkPort
    << "\n      index: burst\n"
    << "  delivery:\n    batchSize: 100\n    lingerMs: 5\n"
    << "---\napiVersion: shoal.dev/v1alpha1\nkind: WorkerPool\nmetadata:\n  name: burst\nspec:\n"
    << "  pipelineRef:\n    name: burst\n"  // image: the chart's workerImage
    << "  minReplicas: 1\n  maxReplicas: 4\n  terminationGracePeriodSeconds: 20\n"
    << "  scaling:\n    policy: drainTime\n    drainSeconds: 5\n    perReplicaThroughput: 500\n"
    << "    pollIntervalSeconds: 1\n"
    << "    scaleDown:\n      stabilizationSeconds: 5\n      periodSeconds: 1\n"
    << "      maxPodsPerStep: 4\n      percent: 100\n";
  auto applied = cp.kubectl({"apply", "-f", "-"}, y.str());
  ASSERT_EQ(applied.exitCode, 0) << applied.err;

  auto replicas = [&] {
    std::string s = jsonpath(cp, {"deployment", "burst"}, "{.spec.replicas}");
    return s.empty() ? -1 : std::stoi(s);
  };
  auto readyReplicas = [&] {
    std::string s = jsonpath(cp, {"deployment", "burst"}, "{.status.readyReplicas}");
    return s.empty() ? 0 : std::stoi(s);
  };
  ASSERT_TRUE(waitUntil([&] { return readyReplicas() == 1; }, 90s, 250ms))
      << opLogs() << readFile(c.agentLog) << cp.kubectl({"describe", "workerpool", "burst"}).out;

  // The sink answers each bulk request after 25 ms, as a busy Elasticsearch
  // would: one worker then drains ~4,000 entries/s. Against a sink that
  // answers at once a single worker clears the whole burst in well under a
  // second and there is nothing to scale.
  int delayStatus = 0;
  shoal::testing::httpRequest(bulkPort, "POST", "/_shoal/faults/delay",
                              R"({"ms":25,"next":-1})", &delayStatus);
  ASSERT_EQ(delayStatus, 200);

  // Figures for bench/e2e/run.sh (written only when SHOAL_E2E_BENCH_OUT is
  // set; never asserted): time to drain and replica-seconds spent.
  auto t0 = std::chrono::steady_clock::now();
  auto lastSample = t0;
  double replicaSeconds = 0;
  int peak = 1;
  auto sample = [&] {
    int r = replicas();
    auto now = std::chrono::steady_clock::now();
    if (r > 0) replicaSeconds += r * std::chrono::duration<double>(now - lastSample).count();
    lastSample = now;
    peak = std::max(peak, r);
    return r;
  };
  int loadgenExit = -1;
  std::string sent = shoal::testing::runCommand(
      b_.loadgen + " --quiet --redis redis://127.0.0.1:" + std::to_string(redis.port()) +
          " --stream logs:burst --kind json --payload-bytes 200 --pipeline 1000 --total " +
          std::to_string(kBurst),
      false, &loadgenExit);
  ASSERT_EQ(loadgenExit, 0) << sent;

  ASSERT_TRUE(waitUntil(
      [&] {
        sample();
        return totalDocs(bulkPort) >= kBurst;
      },
      120s, 250ms))
      << "delivered " << totalDocs(bulkPort) << "\n"
      << opLogs();
  double drainSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "peak replicas: " << peak << ", drained in " << drainSeconds << " s\n";
  EXPECT_GT(peak, 1) << "the burst should have scaled the pool up";

  // Replicas fall back to minReplicas, and the scaled-in pods are gone.
  ASSERT_TRUE(waitUntil(
      [&] {
        return sample() == 1 && jsonpath(cp, {"pods", "-l", "app.kubernetes.io/instance=burst"},
                                         "{.items[*].metadata.name}")
                                        .find(' ') == std::string::npos;
      },
      90s, 250ms))
      << cp.kubectl({"describe", "workerpool", "burst"}).out;

  std::cout << "replica-seconds: " << replicaSeconds << "\n";
  if (const char* out = std::getenv("SHOAL_E2E_BENCH_OUT"); out && *out) {
    std::ofstream(out) << "bench: e2e_burst_drain_s " << drainSeconds << " s\n"
                       << "bench: e2e_replica_seconds " << replicaSeconds << " replica_s\n";
  }

  auto stats = bulkStats(bulkPort, true);
  ASSERT_TRUE(stats.is_object());
  EXPECT_EQ(stats.value("totalDocs", int64_t{-1}), kBurst);
  EXPECT_EQ(stats.value("conflicts", int64_t{-1}), 0) << "redelivery after scale-in";
  std::set<std::string> ids;
  int64_t idCount = 0;
  for (auto& [index, list] : stats["ids"].items()) {
    for (auto& id : list) {
      ids.insert(id.get<std::string>());
      idCount++;
    }
  }
  EXPECT_EQ(idCount, kBurst);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kBurst));
  // Nothing left pending in the group.
  std::string pending = redis.cli("XPENDING logs:burst shoal-burst");
  EXPECT_EQ(pending.substr(0, pending.find('\n')), "0") << pending;

  auto describe = cp.kubectl({"describe", "workerpool", "burst"});
  std::cout << describe.out;
  EXPECT_NE(describe.out.find("Conditions"), std::string::npos);
  EXPECT_NE(describe.out.find("Events"), std::string::npos);
  // The worker pods run the image the chart told the operator to use.
  EXPECT_EQ(jsonpath(cp, {"deployment", "burst"}, "{.spec.template.spec.containers[0].image}"),
            "example.org/shoal-worker:e2e");

  // helm uninstall deletes the Deployment: the agent stops the operator pod
  // with SIGTERM and it exits 0 within its grace period.
  auto [uninstalled, uninstallOut] =
      helm({"uninstall", "shoal", "--namespace", kReleaseNs, "--wait", "--timeout", "60s"});
  EXPECT_EQ(uninstalled, 0) << uninstallOut;
  ASSERT_TRUE(waitUntil([&] { return jsonpath(cp, opPods, "{.items[*].metadata.name}").empty(); },
                        60s, 250ms))
      << readFile(c.agentLog);
  std::string exited = lastLogLine(readFile(c.agentLog), "\"msg\":\"pod process exited\"", opPod);
  EXPECT_NE(exited.find("\"code\":0"), std::string::npos) << exited << "\n" << opLogs();
}

}  // namespace
