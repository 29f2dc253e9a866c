// shoal-operator's Receiver controller against a real control plane
// (kube-apiserver, etcd, kube-controller-manager), the real kubectl and a
// real redis-server: the rendered ConfigMap (run by the real shoal-receiver
// when it is built), Deployment and Service with one
// port per listener, conditions (RedisReachable through a Redis outage,
// Throttling from the operator's reading of a target stream's backlog),
// `kubectl scale` through /scale, the printer
// columns of `kubectl get receivers`, garbage collection.
// Skips (GTEST_SKIP) when the control-plane binaries are missing.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "shoal/testing/kube_control_plane.h"
#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

namespace shoal {
namespace {

using nlohmann::json;
using shoal::testing::KubeControlPlane;
using shoal::testing::waitUntil;
using namespace std::chrono_literals;

const std::string kOperatorBinary = std::string(SHOAL_BINARY_DIR) + "/operator/cmd/shoal-operator";
const std::string kNs = "recv-op";
// Free loopback ports: the rendered config also runs a real shoal-receiver here.
const int kHttpPort = shoal::testing::freePort();
const int kSyslogPort = shoal::testing::freePort();
const int kMetricsPort = shoal::testing::freePort();

/// One Redis, the three CRDs and one operator (namespace recv-op).
class ReceiverEnv {
 public:
  ReceiverEnv() : cp(shoal::testing::sharedControlPlane()) {
    const std::string crds = std::string(SHOAL_SOURCE_DIR) + "/crds/";
    auto r = cp.kubectl({"apply", "--server-side", "-f", crds + "shoal.dev_pipelines.yaml", "-f",
                         crds + "shoal.dev_workerpools.yaml", "-f", crds + "shoal.dev_receivers.yaml"});
    if (r.exitCode != 0) throw std::runtime_error("applying CRDs: " + r.err);
    r = cp.kubectl({"wait", "--for=condition=Established", "--timeout=60s", "crd/pipelines.shoal.dev",
                    "crd/workerpools.shoal.dev", "crd/receivers.shoal.dev"});
    if (r.exitCode != 0) throw std::runtime_error("CRDs not established: " + r.err);
    cp.kubectl({"create", "namespace", kNs});
    shoal::testing::Process::Options o;
    o.argv = {kOperatorBinary,
              "--kubeconfig",
              cp.kubeconfig(),
              "--namespace",
              kNs,
              "--metrics-bind-address",
              "127.0.0.1:" + std::to_string(shoal::testing::freePort()),
              "--health-probe-bind-address",
              "127.0.0.1:" + std::to_string(shoal::testing::freePort()),
              "--log-level",
              "debug"};
    o.stderrPath = dir.file("operator.log");
    operatorProc = shoal::testing::Process(o);
  }
  std::string log() const { return shoal::testing::Process::readFile(dir.file("operator.log")); }

  KubeControlPlane& cp;
  shoal::testing::TempDir dir;
  shoal::testing::RedisServer redis;
  shoal::testing::Process operatorProc;
};

ReceiverEnv* env = nullptr;

class ReceiverEnvCleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    delete env;
    env = nullptr;
  }
};
const auto* const kCleanup = ::testing::AddGlobalTestEnvironment(new ReceiverEnvCleanup);

class ReceiverK8sTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (KubeControlPlane::missing(shoal::testing::sharedControlPlaneOptions())) return;
    if (env == nullptr) env = new ReceiverEnv();
  }
  void SetUp() override {
    SHOAL_REQUIRE_K8S(shoal::testing::sharedControlPlaneOptions());
    ASSERT_NE(env, nullptr);
  }
  KubeControlPlane::CommandResult kubectl(const std::vector<std::string>& args, const std::string& in = "") {
    return env->cp.kubectl(args, in);
  }
  json get(const std::string& what) {
    auto r = kubectl({"get", "-n", kNs, what, "-o", "json"});
    if (r.exitCode != 0) return json();
    return json::parse(r.out, nullptr, false);
  }
  json condition(const std::string& what, const std::string& type) {
    json o = get(what);
    if (!o.is_object()) return json::object();
    for (const auto& c : o.value("status", json::object()).value("conditions", json::array()))
      if (c.value("type", "") == type) return c;
    return json::object();
  }
  static json receiver(const std::string& name) {
    return json{{"apiVersion", "shoal.dev/v1alpha1"},
                {"kind", "Receiver"},
                {"metadata", {{"name", name}, {"namespace", kNs}}},
                {"spec",
                 {{"replicas", 2},
                  {"image", "shoal-receiver:test"},
                  {"redis", {{"address", "127.0.0.1:" + std::to_string(env->redis.port())}}},
                  {"http", {{"port", kHttpPort}, {"routes", {{"logs", {{"stream", "logs:app"}}}}}}},
                  {"syslog",
                   {{"tcp", {{"port", kSyslogPort}}}, {"udp", {{"port", kSyslogPort}}},
                    {"route", {{"stream", "syslog:app"}}}}},
                  {"metricsPort", kMetricsPort}}}};
  }
};

TEST_F(ReceiverK8sTest, ReceiverGetsConfigMapDeploymentAndServiceScalesAndIsCollected) {
  auto r = kubectl({"apply", "-f", "-"}, receiver("front").dump());
  ASSERT_EQ(r.exitCode, 0) << r.err;
  json dep;
  ASSERT_TRUE(waitUntil([&] {
    dep = get("deployment/front-receiver");
    return dep.is_object();
  }, 30s, 200ms)) << "no Deployment; operator log:\n" << env->log();
  const json recv = get("receiver/front");
  EXPECT_EQ(dep["metadata"]["ownerReferences"][0]["kind"], "Receiver");
  EXPECT_EQ(dep["metadata"]["ownerReferences"][0]["uid"], recv["metadata"]["uid"]);
  EXPECT_EQ(dep["spec"]["replicas"], 2);
  const json& c = dep["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(c["image"], "shoal-receiver:test");
  EXPECT_EQ(c["args"], json({"--config", "/etc/shoal/receiver.yaml"}));
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], "/readyz");
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"], "/healthz");
  const std::string hash = dep["spec"]["template"]["metadata"]["annotations"]["shoal.dev/config-hash"];

  const json cm = get("configmap/front-receiver-config");
  ASSERT_TRUE(cm.is_object());
  const std::string config = cm["data"]["receiver.yaml"];
  EXPECT_NE(config.find("logs:app"), std::string::npos) << config;
  EXPECT_EQ(config.find("replicas"), std::string::npos) << config;

#ifdef SHOAL_RECEIVER_BINARY
  // The config as the API server stored it (CRD defaults applied) is one the
  // real shoal-receiver runs: it starts, gets ready and stops on SIGTERM.
  {
    const std::string file = env->dir.file("receiver.yaml");
    std::ofstream(file) << config;
    shoal::testing::Process::Options po;
    po.argv = {SHOAL_RECEIVER_BINARY, "--config", file};
    po.stderrPath = env->dir.file("receiver.err");
    shoal::testing::Process receiverProc(po);
    int rc = -1;
    EXPECT_TRUE(waitUntil([&] {
      return shoal::testing::runCommand("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:" +
                                            std::to_string(kMetricsPort) + "/readyz",
                                        false, &rc) == "200";
    }, 20s, 100ms))
        << config << "\n" << shoal::testing::Process::readFile(env->dir.file("receiver.err"));
    receiverProc.signal(SIGTERM);
    auto exit = receiverProc.wait(20000ms);
    ASSERT_TRUE(exit.has_value());
    EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0)
        << shoal::testing::Process::readFile(env->dir.file("receiver.err"));
  }
#endif

  json svc;
  ASSERT_TRUE(waitUntil([&] {
    svc = get("service/front-receiver");
    return svc.is_object();
  }, 30s, 200ms)) << env->log();
  json ports = json::array();
  for (const auto& p : svc["spec"]["ports"]) ports.push_back({p["name"], p["port"], p["protocol"], p["targetPort"]});
  EXPECT_EQ(ports, json::array({json::array({"http", kHttpPort, "TCP", "http"}),
                                 json::array({"syslog-tcp", kSyslogPort, "TCP", "syslog-tcp"}),
                                 json::array({"syslog-udp", kSyslogPort, "UDP", "syslog-udp"}),
                                 json::array({"metrics", kMetricsPort, "TCP", "metrics"})}));
  EXPECT_EQ(svc["spec"]["selector"]["app.kubernetes.io/name"], "shoal-receiver");

  // Status: the selector for /scale, Redis answered, the (empty) target
  // streams are not throttled.
  EXPECT_TRUE(waitUntil([&] { return condition("receiver/front", "RedisReachable").value("status", "") == "True"; },
                        30s, 200ms))
      << get("receiver/front").dump() << "\n" << env->log();
  EXPECT_EQ(condition("receiver/front", "Throttling").value("status", ""), "False");
  EXPECT_EQ(condition("receiver/front", "Throttling").value("reason", ""), "BacklogUnderLimit");
  EXPECT_EQ(condition("receiver/front", "Ready").value("status", ""), "False") << "no kubelet: no pod is ready";
  EXPECT_EQ(get("receiver/front")["status"]["selector"],
            "app.kubernetes.io/instance=front-receiver,app.kubernetes.io/name=shoal-receiver");

  // Redis goes away: RedisReachable says so within a re-check (30 s), and
  // recovers within a retry (5 s) once Redis is back.
  env->redis.stop();
  EXPECT_TRUE(waitUntil([&] { return condition("receiver/front", "RedisReachable").value("status", "") == "False"; },
                        45s, 250ms))
      << get("receiver/front").dump();
  EXPECT_EQ(condition("receiver/front", "RedisReachable").value("reason", ""), "Unreachable");
  EXPECT_EQ(condition("receiver/front", "Throttling").value("status", ""), "Unknown");
  EXPECT_EQ(condition("receiver/front", "Throttling").value("reason", ""), "BacklogNotMeasured");
  env->redis.restart();
  EXPECT_TRUE(waitUntil([&] { return condition("receiver/front", "RedisReachable").value("status", "") == "True"; },
                        20s, 250ms))
      << get("receiver/front").dump();

  // kubectl scale goes through /scale to spec.replicas and on to the Deployment,
  // without touching the config (no rolling restart).
  r = kubectl({"scale", "-n", kNs, "receiver/front", "--replicas=3"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(waitUntil([&] {
    json d = get("deployment/front-receiver");
    return d.is_object() && d["spec"]["replicas"] == 3;
  }, 30s, 200ms)) << env->log();
  EXPECT_EQ(get("deployment/front-receiver")["spec"]["template"]["metadata"]["annotations"]["shoal.dev/config-hash"],
            hash);
  // status.replicas follows the Deployment (kube-controller-manager creates
  // the ReplicaSet's pods as objects even without a kubelet).
  EXPECT_TRUE(waitUntil([&] { return get("receiver/front")["status"].value("replicas", -1) == 3; }, 30s, 200ms))
      << get("receiver/front").dump();
  r = kubectl({"get", "-n", kNs, "receiver/front", "--subresource=scale", "-o", "json"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  json scale = json::parse(r.out, nullptr, false);
  EXPECT_EQ(scale["spec"]["replicas"], 3);
  EXPECT_EQ(scale["status"]["selector"], "app.kubernetes.io/instance=front-receiver,app.kubernetes.io/name=shoal-receiver");

  // kubectl get receivers: the printer columns.
  r = kubectl({"get", "-n", kNs, "receivers"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const std::string header = r.out.substr(0, r.out.find('\n'));
  for (const char* col : {"NAME", "REPLICAS", "READY", "THROTTLING", "AGE"})
    EXPECT_NE(header.find(col), std::string::npos) << col << " in: " << r.out;
  EXPECT_LT(header.find("REPLICAS"), header.find("READY"));
  EXPECT_LT(header.find("READY"), header.find("THROTTLING"));
  const std::string row = r.out.substr(r.out.find('\n') + 1);
  EXPECT_EQ(row.rfind("front ", 0), 0u) << r.out;
  EXPECT_NE(row.find(" 3 "), std::string::npos) << r.out;
  EXPECT_NE(row.find("False"), std::string::npos) << r.out;

  // Deleting the Receiver garbage-collects what it owns.
  r = kubectl({"delete", "-n", kNs, "receiver/front", "--wait=true"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(waitUntil([&] {
    return !get("deployment/front-receiver").is_object() && !get("service/front-receiver").is_object() &&
           !get("configmap/front-receiver-config").is_object();
  }, 60s, 250ms));
}

// Throttling is the operator's own reading of the target streams: a group
// behind by more than maxBacklog on a stream the Receiver writes to (here one
// that streamFromField names) makes it True naming the stream, and it clears
// within a re-check once the group has acknowledged.
TEST_F(ReceiverK8sTest, ThrottlingFollowsTheBacklogOfATargetStream) {
  const auto& redis = env->redis;
  redis.cli("XGROUP CREATE logs:busy g '$' MKSTREAM");
  for (int i = 0; i < 8; ++i) redis.cli("XADD logs:busy '*' message m" + std::to_string(i));
  json busy = receiver("busy");
  busy["spec"]["http"]["routes"]["logs"]["streamFromField"] = {{"field", "service"},
                                                               {"streams", {{"checkout", "logs:busy"}}}};
  busy["spec"]["backpressure"] = {{"maxBacklog", 5}};
  busy["spec"].erase("syslog");
  busy["spec"]["metricsPort"] = 0;
  auto r = kubectl({"apply", "-f", "-"}, busy.dump());
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(waitUntil([&] { return condition("receiver/busy", "Throttling").value("status", "") == "True"; }, 30s,
                        200ms))
      << get("receiver/busy").dump() << "\n" << env->log();
  EXPECT_EQ(condition("receiver/busy", "Throttling").value("reason", ""), "BacklogOverLimit");
  EXPECT_NE(condition("receiver/busy", "Throttling").value("message", "").find("logs:busy (backlog 8 > maxBacklog 5)"),
            std::string::npos)
      << get("receiver/busy").dump();
  r = kubectl({"get", "-n", kNs, "receiver/busy"});
  EXPECT_NE(r.out.find("True"), std::string::npos) << r.out;  // the THROTTLING column

  // The group reads and acknowledges everything: False within a re-check (5 s while throttled).
  // redis-cli prints one reply element per line: the ids are the lines of the form <ms>-<seq>.
  std::istringstream read(redis.cli("XREADGROUP GROUP g c COUNT 100 STREAMS logs:busy '>'"));
  std::string ids;
  for (std::string line; std::getline(read, line);) {
    const size_t dash = line.find('-');
    if (dash != std::string::npos && dash > 0 && line.find_first_not_of("0123456789-") == std::string::npos)
      ids += " " + line;
  }
  redis.cli("XACK logs:busy g" + ids);
  ASSERT_EQ(redis.cli("XPENDING logs:busy g").rfind("0\n", 0), 0u) << ids;
  EXPECT_TRUE(waitUntil([&] { return condition("receiver/busy", "Throttling").value("status", "") == "False"; }, 20s,
                        250ms))
      << get("receiver/busy").dump();
  r = kubectl({"delete", "-n", kNs, "receiver/busy", "--wait=true"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
}

// The API server refuses a Receiver with nothing to listen on (CEL rule);
// one the schema takes but the operator cannot run (TLS on syslog with a
// different certificate than HTTP) gets Ready=False naming the field.
TEST_F(ReceiverK8sTest, BadSpecsGetOneDefinedOutcomeEach) {
  json none = receiver("none");
  none["spec"].erase("http");
  none["spec"].erase("syslog");
  auto r = kubectl({"apply", "-f", "-"}, none.dump());
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.err.find("nothing to listen on"), std::string::npos) << r.err;

  json both = receiver("both");
  both["spec"]["http"]["routes"]["logs"]["shards"] = 2;
  both["spec"]["http"]["routes"]["logs"]["streamFromField"] = {{"field", "service"}, {"streams", {{"a", "logs:a"}}}};
  r = kubectl({"apply", "-f", "-"}, both.dump());
  EXPECT_NE(r.exitCode, 0);
  EXPECT_NE(r.err.find("streamFromField cannot be combined with shards > 1"), std::string::npos) << r.err;

  json certs = receiver("certs");
  certs["spec"]["http"]["tlsSecretName"] = "a-tls";
  certs["spec"]["syslog"]["tls"] = {{"port", 6514}, {"secretName", "b-tls"}};
  r = kubectl({"apply", "-f", "-"}, certs.dump());
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(waitUntil([&] { return condition("receiver/certs", "Ready").value("reason", "") == "InvalidSpec"; },
                        30s, 200ms))
      << get("receiver/certs").dump() << "\n" << env->log();
  EXPECT_EQ(condition("receiver/certs", "Ready").value("message", "").rfind("spec.syslog.tls.secretName", 0), 0u);
  EXPECT_FALSE(get("deployment/certs-receiver").is_object());
}

}  // namespace
}  // namespace shoal
