// shoal-operator against a real control plane (kube-apiserver, etcd,
// kube-controller-manager), the real kubectl and a real redis-server: the
// rendered Deployment, rollouts, garbage collection, scaling on a real
// backlog, honest conditions when Redis is gone, leader election.
// Skips (GTEST_SKIP) when the control-plane binaries are missing.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>

#include <fstream>
#include <memory>

#include "shoal/redis/client.h"
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
const std::string kNs = "op-main";

/// One Redis, the CRDs and one operator (namespace op-main) for the suite.
class OperatorEnv {
 public:
  OperatorEnv() : cp(shoal::testing::sharedControlPlane()) {
    auto r = cp.kubectl({"apply", "-f", std::string(SHOAL_SOURCE_DIR) + "/crds/shoal.dev_pipelines.yaml",
                         "-f", std::string(SHOAL_SOURCE_DIR) + "/crds/shoal.dev_workerpools.yaml"});
    if (r.exitCode != 0) throw std::runtime_error("applying CRDs: " + r.err);
    r = cp.kubectl({"wait", "--for=condition=Established", "--timeout=60s",
                    "crd/pipelines.shoal.dev", "crd/workerpools.shoal.dev"});
    if (r.exitCode != 0) throw std::runtime_error("CRDs not established: " + r.err);
    for (const auto& ns : {kNs, std::string("op-leader")}) cp.kubectl({"create", "namespace", ns});
    operatorProc = startOperator(kNs, false, logFile("operator.log"));
  }

  /// metricsPort 0: any free port (the test does not scrape it).
  shoal::testing::Process startOperator(const std::string& ns, bool leaderElect,
                                        const std::string& log, int metricsPort = 0) {
    if (metricsPort == 0) metricsPort = shoal::testing::freePort();
    std::vector<std::string> argv = {kOperatorBinary,
                                     "--kubeconfig",
                                     cp.kubeconfig(),
                                     "--namespace",
                                     ns,
                                     "--metrics-bind-address",
                                     "127.0.0.1:" + std::to_string(metricsPort),
                                     "--health-probe-bind-address",
                                     "127.0.0.1:" + std::to_string(shoal::testing::freePort()),
                                     "--log-level",
                                     "debug"};
    if (leaderElect) {
      argv.insert(argv.end(), {"--leader-elect", "--leader-election-namespace", ns});
    }
    shoal::testing::Process::Options o;
    o.argv = argv;
    o.stderrPath = log;
    return shoal::testing::Process(o);
  }

  std::string logFile(const std::string& name) const { return dir.file(name); }

  KubeControlPlane& cp;
  shoal::testing::TempDir dir;
  shoal::testing::RedisServer redis;
  shoal::testing::Process operatorProc;
};

OperatorEnv* env = nullptr;

/// Stops the operator and Redis before the control plane goes away.
class OperatorEnvCleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    delete env;
    env = nullptr;
  }
};
const auto* const kCleanup = ::testing::AddGlobalTestEnvironment(new OperatorEnvCleanup);

class OperatorK8sTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (KubeControlPlane::missing(shoal::testing::sharedControlPlaneOptions())) return;
    if (env == nullptr) env = new OperatorEnv();
  }
  void SetUp() override {
    SHOAL_REQUIRE_K8S(shoal::testing::sharedControlPlaneOptions());
    ASSERT_NE(env, nullptr);
  }

  KubeControlPlane::CommandResult kubectl(const std::vector<std::string>& args,
                                          const std::string& in = "") {
    return env->cp.kubectl(args, in);
  }

  void apply(const json& obj) {
    auto r = kubectl({"apply", "-f", "-"}, obj.dump());
    ASSERT_EQ(r.exitCode, 0) << r.err;
  }

  json get(const std::string& ns, const std::string& what) {
    auto r = kubectl({"get", "-n", ns, what, "-o", "json"});
    if (r.exitCode != 0) return json();
    return json::parse(r.out, nullptr, false);
  }

  static json pipeline(const std::string& ns, const std::string& name, const std::string& stream) {
    return json{{"apiVersion", "shoal.dev/v1alpha1"},
                {"kind", "Pipeline"},
                {"metadata", {{"name", name}, {"namespace", ns}}},
                {"spec",
                 {{"type", "logs"},
                  {"source",
                   {{"redis",
                     {{"address", "127.0.0.1:" + std::to_string(env->redis.port())},
                      {"stream", stream},
                      {"consumerGroup", "shoal"},
                      {"startId", "0"}}}}},
                  {"sink", {{"elasticsearch", {{"url", "http://127.0.0.1:9200"}, {"index", "logs"}}}}}}}};
  }

  static json pool(const std::string& ns, const std::string& name, const std::string& pipelineName,
                   int minReplicas = 1) {
    return json{{"apiVersion", "shoal.dev/v1alpha1"},
                {"kind", "WorkerPool"},
                {"metadata", {{"name", name}, {"namespace", ns}}},
                {"spec",
                 {{"pipelineRef", {{"name", pipelineName}}},
                  {"image", "shoal-worker:test"},
                  {"minReplicas", minReplicas},
                  {"maxReplicas", 5},
                  {"scaling",
                   {{"policy", "targetBacklogPerReplica"},
                    {"targetBacklogPerReplica", 10},
                    {"pollIntervalSeconds", 1},
                    {"idleSeconds", 1},
                    {"scaleDown",
                     {{"stabilizationSeconds", 3}, {"periodSeconds", 1}, {"percent", 100}}}}}}}};
  }

  int deploymentReplicas(const std::string& ns, const std::string& name) {
    json d = get(ns, "deployment/" + name);
    if (!d.is_object()) return -1;
    return d["spec"].value("replicas", -1);
  }

  json condition(const std::string& ns, const std::string& what, const std::string& type) {
    json o = get(ns, what);
    if (!o.is_object() || !o.contains("status")) return json();
    for (const auto& c : o["status"].value("conditions", json::array())) {
      if (c.value("type", "") == type) return c;
    }
    return json();
  }

  void xadd(const std::string& stream, int n) {
    for (int i = 0; i < n; ++i) env->redis.cli("XADD " + stream + " '*' msg hello" + std::to_string(i));
  }

  /// Reads everything as a consumer and acknowledges it, as a worker would.
  void drain(const std::string& stream) {
    redis::ConnectionOptions o;
    o.port = env->redis.port();
    redis::Client c(o, SystemClock::instance());
    for (;;) {
      auto entries = c.readGroup(stream, "shoal", "test-consumer", ">", 1000, -1);
      ASSERT_TRUE(entries.ok()) << entries.error().message;
      if (entries.value().empty()) break;
      std::vector<std::string> ids;
      for (const auto& e : entries.value()) ids.push_back(e.id);
      ASSERT_TRUE(c.ack(stream, "shoal", ids).ok());
    }
  }
};

TEST_F(OperatorK8sTest, PoolGetsOwnedDeploymentRollsOnTemplateEditAndIsCollected) {
  apply(pipeline(kNs, "render", "render-stream"));
  apply(pool(kNs, "render-pool", "render"));
  json dep;
  ASSERT_TRUE(waitUntil([&] {
    dep = get(kNs, "deployment/render-pool");
    return dep.is_object();
  }, 30s, 200ms)) << "no Deployment; operator log:\n" << shoal::testing::Process::readFile(env->logFile("operator.log"));
  json wp = get(kNs, "workerpool/render-pool");
  const json& owner = dep["metadata"]["ownerReferences"][0];
  EXPECT_EQ(owner["kind"], "WorkerPool");
  EXPECT_EQ(owner["uid"], wp["metadata"]["uid"]);
  EXPECT_EQ(owner["controller"], true);
  EXPECT_EQ(dep["spec"]["replicas"], 1);
  json cm = get(kNs, "configmap/render-pool-config");
  ASSERT_TRUE(cm.is_object());
  EXPECT_NE(cm["data"]["pipeline.yaml"].get<std::string>().find("render-stream"), std::string::npos);
  const std::string hash =
      dep["spec"]["template"]["metadata"]["annotations"]["shoal.dev/config-hash"];
  EXPECT_EQ(hash.size(), 16u);

  // Editing the pool's template rolls the workers (new pod template).
  auto r = kubectl({"patch", "-n", kNs, "workerpool/render-pool", "--type=merge", "-p",
                    R"({"spec":{"template":{"annotations":{"rollout":"two"}}}})"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(waitUntil([&] {
    json d = get(kNs, "deployment/render-pool");
    return d.is_object() &&
           d["spec"]["template"]["metadata"]["annotations"].value("rollout", "") == "two";
  }, 20s, 200ms));

  // Editing the Pipeline changes the config hash, which rolls them too.
  r = kubectl({"patch", "-n", kNs, "pipeline/render", "--type=merge", "-p",
               R"({"spec":{"delivery":{"batchSize":77}}})"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(waitUntil([&] {
    json d = get(kNs, "deployment/render-pool");
    return d.is_object() &&
           d["spec"]["template"]["metadata"]["annotations"].value("shoal.dev/config-hash", "") != hash;
  }, 20s, 200ms));

  // Drift is corrected: a hand-made scale is undone.
  r = kubectl({"scale", "-n", kNs, "deployment/render-pool", "--replicas=4"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(waitUntil([&] { return deploymentReplicas(kNs, "render-pool") == 1; }, 20s, 200ms));

  // Deleting the pool garbage-collects its Deployment (kube-controller-manager).
  r = kubectl({"delete", "-n", kNs, "workerpool/render-pool", "--wait=true"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_TRUE(waitUntil([&] { return !get(kNs, "deployment/render-pool").is_object(); }, 60s, 250ms));
}

// The longest names the API server takes (253 characters) for both the
// Pipeline and the pool: the operator's Deployment and ConfigMap must be
// accepted, the ReplicaSet and pods the Deployment makes too, the status
// selector must find those pods, and Events about the pool must be written.
TEST_F(OperatorK8sTest, PoolAndPipelineWithTheLongestNamesGetWorkloadsTheServerAccepts) {
  auto longName = [](const std::string& stem) {
    std::string s = stem;
    while (s.size() < 253) s += ".long-name";
    s.resize(253);
    if (s.back() == '.' || s.back() == '-') s.back() = 'x';
    return s;
  };
  const std::string pipelineName = longName("p"), poolName = longName("w");
  apply(pipeline(kNs, pipelineName, "long-stream"));
  apply(pool(kNs, poolName, pipelineName));
  json dep;
  ASSERT_TRUE(waitUntil(
      [&] {
        json list = get(kNs, "deployments");
        if (!list.is_object()) return false;
        for (const auto& d : list.value("items", json::array())) {
          for (const auto& o : d["metadata"].value("ownerReferences", json::array())) {
            if (o.value("name", "") == poolName) dep = d;
          }
        }
        return dep.is_object();
      },
      30s, 200ms))
      << "no Deployment for the pool; operator log:\n"
      << shoal::testing::Process::readFile(env->logFile("operator.log"));
  const std::string depName = dep["metadata"]["name"];
  EXPECT_LE(depName.size(), 63u);
  const std::string cmName = dep["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"];
  EXPECT_TRUE(get(kNs, "configmap/" + cmName).is_object()) << cmName;
  EXPECT_EQ(dep["metadata"]["labels"]["shoal.dev/pipeline"].get<std::string>().size(), 63u);

  // kube-controller-manager makes the ReplicaSet and the (unscheduled) pod,
  // and status.selector (the scale subresource's) selects exactly that pod.
  std::string selector;
  ASSERT_TRUE(waitUntil(
      [&] {
        json wp = get(kNs, "workerpool/" + poolName);
        selector = wp.is_object() ? wp["status"].value("selector", "") : "";
        return !selector.empty();
      },
      20s, 200ms));
  EXPECT_TRUE(waitUntil(
      [&] {
        auto r = kubectl({"get", "pods", "-n", kNs, "-l", selector, "-o", "name"});
        return r.exitCode == 0 && !r.out.empty();
      },
      30s, 250ms))
      << selector;
  auto events = kubectl({"get", "events", "-n", kNs, "--field-selector",
                         "involvedObject.name=" + poolName, "-o", "json"});
  EXPECT_NE(events.out.find("WorkersCreated"), std::string::npos) << events.out << events.err;
  EXPECT_EQ(events.out.find("WorkloadApplyFailed"), std::string::npos) << events.out;

  auto r = kubectl(
      {"delete", "-n", kNs, "workerpool/" + poolName, "pipeline/" + pipelineName, "--wait=true"});
  EXPECT_EQ(r.exitCode, 0) << r.err;
}

TEST_F(OperatorK8sTest, BacklogScalesUpWithinThePollAndDownAfterStabilization) {
  apply(pipeline(kNs, "burst", "burst-stream"));
  apply(pool(kNs, "burst-pool", "burst"));
  ASSERT_TRUE(waitUntil([&] { return deploymentReplicas(kNs, "burst-pool") == 1; }, 30s, 200ms));
  ASSERT_TRUE(waitUntil([&] {
    return condition(kNs, "pipeline/burst", "SourceReady").value("status", "") == "True";
  }, 20s, 200ms)) << condition(kNs, "pipeline/burst", "SourceReady").dump();

  xadd("burst-stream", 45);  // 45 / 10 per replica -> 5
  EXPECT_TRUE(waitUntil([&] { return deploymentReplicas(kNs, "burst-pool") == 5; }, 10s, 100ms))
      << get(kNs, "workerpool/burst-pool").dump();
  ASSERT_TRUE(waitUntil([&] {
    json st = get(kNs, "workerpool/burst-pool")["status"];
    return st.is_object() && st["backlog"].value("total", -1) == 45 && st.value("desiredReplicas", 0) == 5;
  }, 10s, 100ms));
  auto r = kubectl({"get", "-n", kNs, "workerpools"});
  ASSERT_EQ(r.exitCode, 0) << r.err;
  EXPECT_NE(r.out.find("burst-pool"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("45"), std::string::npos) << r.out;  // the Backlog column

  drain("burst-stream");
  EXPECT_TRUE(waitUntil([&] { return deploymentReplicas(kNs, "burst-pool") == 1; }, 30s, 200ms))
      << get(kNs, "workerpool/burst-pool").dump();
  auto events = kubectl({"get", "events", "-n", kNs, "--field-selector",
                         "involvedObject.name=burst-pool", "-o", "json"});
  EXPECT_NE(events.out.find("ScaledUp"), std::string::npos);
  EXPECT_NE(events.out.find("ScaledDown"), std::string::npos);
}

// A sharded Pipeline (spec.source.redis.shards: 4) on the real apiserver:
// the operator creates the group on every shard stream, scales on the
// backlog summed over the shards, names the hot shard in status, and a shard
// whose group went missing is a condition with the replicas held, never a
// backlog that leaves the shard out.
TEST_F(OperatorK8sTest, AShardedPipelineScalesOnTheSummedBacklogAndShowsTheHotShard) {
  json p = pipeline(kNs, "sharded", "sharded-stream");
  p["spec"]["source"]["redis"]["shards"] = 4;
  apply(p);
  apply(pool(kNs, "sharded-pool", "sharded"));
  ASSERT_TRUE(waitUntil([&] {
    return condition(kNs, "pipeline/sharded", "SourceReady").value("status", "") == "True";
  }, 20s, 200ms)) << get(kNs, "pipeline/sharded").dump();
  for (int i = 0; i < 4; ++i) {
    const std::string groups = env->redis.cli("XINFO GROUPS 'sharded-stream:{" + std::to_string(i) + "}'");
    EXPECT_NE(groups.find("shoal"), std::string::npos) << "shard " << i << ": " << groups;
  }
  ASSERT_TRUE(waitUntil([&] { return deploymentReplicas(kNs, "sharded-pool") == 1; }, 30s, 200ms));

  xadd("'sharded-stream:{2}'", 30);  // the hot shard
  for (int i : {0, 1, 3}) xadd("'sharded-stream:{" + std::to_string(i) + "}'", 3);  // 39 in all -> 4 replicas
  EXPECT_TRUE(waitUntil([&] { return deploymentReplicas(kNs, "sharded-pool") == 4; }, 10s, 100ms))
      << get(kNs, "workerpool/sharded-pool").dump();
  ASSERT_TRUE(waitUntil([&] {
    const json b = get(kNs, "workerpool/sharded-pool")["status"]["backlog"];
    return b.is_object() && b.value("total", -1) == 39 && b.value("shards", 0) == 4 &&
           b["hottestShard"].is_object() && b["hottestShard"].value("stream", "") == "sharded-stream:{2}" &&
           b["hottestShard"].value("total", -1) == 30;
  }, 10s, 100ms)) << get(kNs, "workerpool/sharded-pool").dump();

  // One shard loses its group (someone ran XGROUP DESTROY): the operator
  // creates it again where it starts (startId 0), so that shard's entries
  // count again and the pool keeps its replicas; the unit tests pin that
  // the reading in between fails naming the shard instead of reading 9.
  env->redis.cli("XGROUP DESTROY 'sharded-stream:{2}' shoal");
  EXPECT_TRUE(waitUntil([&] {
    return env->redis.cli("XINFO GROUPS 'sharded-stream:{2}'").find("shoal") != std::string::npos;
  }, 15s, 200ms));
  EXPECT_TRUE(waitUntil([&] {
    const json b = get(kNs, "workerpool/sharded-pool")["status"]["backlog"];
    return b.is_object() && b.value("total", -1) == 39;
  }, 15s, 200ms)) << get(kNs, "workerpool/sharded-pool").dump();
  EXPECT_EQ(deploymentReplicas(kNs, "sharded-pool"), 4);
}

TEST_F(OperatorK8sTest, IdlePoolScalesToZeroAndIsReadyForKubectlWait) {
  apply(pipeline(kNs, "idle", "idle-stream"));
  apply(pool(kNs, "idle-pool", "idle", 0));
  auto r = kubectl({"wait", "-n", kNs, "--for=condition=Ready", "--timeout=40s",
                    "workerpool/idle-pool"});
  EXPECT_EQ(r.exitCode, 0) << r.err << get(kNs, "workerpool/idle-pool").dump();
  EXPECT_EQ(condition(kNs, "workerpool/idle-pool", "Ready").value("reason", ""), "ScaledToZero");
  EXPECT_EQ(deploymentReplicas(kNs, "idle-pool"), 0);
}

// spec.retention through the real operator: over maxLength with onFull:
// dropOldest it drops what its group has not read, and says so in
// status.retention, the RetentionLimited condition and a Warning Event; once
// the group has read and acknowledged everything, the stream is emptied.
TEST_F(OperatorK8sTest, RetentionDropsOverItsCapSaysSoAndTrimsWhatTheGroupAcknowledged) {
  xadd("ret-stream", 20);  // before the Pipeline: its group starts at 0, having read none
  json p = pipeline(kNs, "ret", "ret-stream");
  p["spec"]["retention"] = {{"maxLength", 5}, {"onFull", "dropOldest"}, {"intervalSeconds", 1}};
  apply(p);
  ASSERT_TRUE(waitUntil(
      [&] {
        json st = get(kNs, "pipeline/ret").value("status", json());
        return st.is_object() && st["retention"].is_object() &&
               st["retention"].value("droppedUnconsumedTotal", 0) == 15;
      },
      30s, 200ms))
      << get(kNs, "pipeline/ret").dump();
  EXPECT_EQ(env->redis.cli("XLEN ret-stream"), "5\n");
  const json c = condition(kNs, "pipeline/ret", "RetentionLimited");
  EXPECT_EQ(c.value("status", ""), "True") << c.dump();
  EXPECT_EQ(c.value("reason", ""), "DroppedUnconsumed") << c.dump();
  auto events = kubectl({"get", "events", "-n", kNs, "--field-selector",
                         "involvedObject.kind=Pipeline,involvedObject.name=ret,reason=RetentionDroppedUnconsumed",
                         "-o", "json"});
  ASSERT_EQ(events.exitCode, 0) << events.err;
  const json list = json::parse(events.out, nullptr, false);
  ASSERT_TRUE(list.is_object() && !list["items"].empty()) << events.out;
  EXPECT_EQ(list["items"][0].value("type", ""), "Warning");
  drain("ret-stream");
  ASSERT_TRUE(waitUntil([&] { return env->redis.cli("XLEN ret-stream") == "0\n"; }, 30s, 200ms))
      << get(kNs, "pipeline/ret").dump();
  ASSERT_TRUE(waitUntil(
      [&] { return condition(kNs, "pipeline/ret", "RetentionLimited").value("reason", "") == "WithinLimits"; }, 30s,
      200ms))
      << get(kNs, "pipeline/ret").dump();
  EXPECT_EQ(get(kNs, "pipeline/ret")["status"]["retention"].value("trimmedTotal", -1), 5);
}

TEST_F(OperatorK8sTest, RedisStoppedHoldsReplicasAndSaysWhy) {
  apply(pipeline(kNs, "outage", "outage-stream"));
  apply(pool(kNs, "outage-pool", "outage"));
  ASSERT_TRUE(waitUntil([&] { return deploymentReplicas(kNs, "outage-pool") == 1; }, 30s, 200ms));
  ASSERT_TRUE(waitUntil([&] {
    return condition(kNs, "pipeline/outage", "SourceReady").value("status", "") == "True";
  }, 20s, 200ms));
  xadd("outage-stream", 30);
  ASSERT_TRUE(waitUntil([&] { return deploymentReplicas(kNs, "outage-pool") == 3; }, 10s, 100ms));

  env->redis.stop();
  EXPECT_TRUE(waitUntil([&] {
    json c = condition(kNs, "workerpool/outage-pool", "ScalingActive");
    return c.value("status", "") == "False" && c.value("reason", "") == "RedisUnreachable";
  }, 15s, 200ms)) << condition(kNs, "workerpool/outage-pool", "ScalingActive").dump();
  // Several polls (1 s each) without a scale-down.
  EXPECT_FALSE(waitUntil([&] { return deploymentReplicas(kNs, "outage-pool") != 3; }, 5s, 200ms));
  // The status as the API server holds it (what kubectl get -o wide shows):
  // the backlog of before the outage is gone, not shown as current.
  const json st = get(kNs, "workerpool/outage-pool").value("status", json::object());
  EXPECT_FALSE(st.value("backlog", json::object()).contains("total")) << st.dump();
  EXPECT_FALSE(st.value("backlog", json::object()).contains("lag")) << st.dump();
  EXPECT_FALSE(st.contains("estimatedDrainSeconds")) << st.dump();
  env->redis.restart();
  EXPECT_TRUE(waitUntil([&] {
    return condition(kNs, "workerpool/outage-pool", "ScalingActive").value("status", "") == "True";
  }, 20s, 200ms));
}

TEST_F(OperatorK8sTest, OneLeaderAndTakeoverWhenItIsKilled) {
  const std::string ns = "op-leader";
  apply(pipeline(ns, "le", "le-stream"));
  apply(pool(ns, "le-pool", "le"));
  const int portA = shoal::testing::freePort(), portB = shoal::testing::freePort();
  auto a = env->startOperator(ns, true, env->logFile("a.log"), portA);
  auto b = env->startOperator(ns, true, env->logFile("b.log"), portB);
  auto leads = [&](const std::string& log) {
    return shoal::testing::Process::readFile(log).find("became the leader") != std::string::npos;
  };
  ASSERT_TRUE(waitUntil([&] { return leads(env->logFile("a.log")) || leads(env->logFile("b.log")); },
                        30s, 100ms));
  ASSERT_TRUE(waitUntil([&] { return deploymentReplicas(ns, "le-pool") == 1; }, 30s, 200ms));
  const bool aLeads = leads(env->logFile("a.log"));
  EXPECT_NE(aLeads, leads(env->logFile("b.log"))) << "exactly one leader";
  auto& leader = aLeads ? a : b;
  const std::string standbyLog = env->logFile(aLeads ? "b.log" : "a.log");
  const int leaderPort = aLeads ? portA : portB, standbyPort = aLeads ? portB : portA;
  // /metrics says the same: the leader gauge is 1 on the leader, 0 on the standby.
  auto leaderGauge = [](int port) {
    const std::string text = "\n" + shoal::testing::httpGet(port, "/metrics");
    for (const char* v : {"0", "1"}) {
      if (text.find(std::string("\nshoal_operator_leader ") + v + "\n") != std::string::npos) {
        return std::string(v);
      }
    }
    return std::string("absent");
  };
  EXPECT_TRUE(waitUntil([&] { return leaderGauge(leaderPort) == "1"; }, 10s, 100ms))
      << leaderGauge(leaderPort);
  EXPECT_EQ(leaderGauge(standbyPort), "0");

  leader.signal(SIGKILL);
  leader.wait(5s);
  // The lease runs out (15 s) and the standby takes over.
  EXPECT_TRUE(waitUntil([&] { return leads(standbyLog); }, 30s, 200ms));
  EXPECT_TRUE(waitUntil([&] { return leaderGauge(standbyPort) == "1"; }, 10s, 100ms))
      << leaderGauge(standbyPort);
  xadd("le-stream", 20);
  EXPECT_TRUE(waitUntil([&] { return deploymentReplicas(ns, "le-pool") == 2; }, 15s, 100ms))
      << shoal::testing::Process::readFile(standbyLog);
}

// Never a double scale: a leader paused (SIGSTOP) past its lease wakes up
// with stale caches while its successor has already scaled. It must not write
// (controllers act only while the lease was renewed within the renew
// deadline on the process's own clock) and must step down and exit.
TEST_F(OperatorK8sTest, PausedLeaderDoesNotScaleAfterItsLeaseRanOut) {
  const std::string ns = "op-pause";
  env->cp.kubectl({"create", "namespace", ns});
  apply(pipeline(ns, "pz", "pz-stream"));
  apply(pool(ns, "pz-pool", "pz"));
  auto a = env->startOperator(ns, true, env->logFile("pause-a.log"));
  auto b = env->startOperator(ns, true, env->logFile("pause-b.log"));
  auto leads = [&](const std::string& log) {
    return shoal::testing::Process::readFile(log).find("became the leader") != std::string::npos;
  };
  ASSERT_TRUE(waitUntil([&] {
    return leads(env->logFile("pause-a.log")) || leads(env->logFile("pause-b.log"));
  }, 30s, 100ms));
  ASSERT_TRUE(waitUntil([&] { return deploymentReplicas(ns, "pz-pool") == 1; }, 30s, 200ms));
  const bool aLeads = leads(env->logFile("pause-a.log"));
  auto& leader = aLeads ? a : b;
  const std::string leaderLog = env->logFile(aLeads ? "pause-a.log" : "pause-b.log");
  const std::string standbyLog = env->logFile(aLeads ? "pause-b.log" : "pause-a.log");

  leader.signal(SIGSTOP);
  ASSERT_TRUE(waitUntil([&] { return leads(standbyLog); }, 40s, 200ms))
      << shoal::testing::Process::readFile(standbyLog);
  xadd("pz-stream", 20);
  ASSERT_TRUE(waitUntil([&] { return deploymentReplicas(ns, "pz-pool") == 2; }, 15s, 100ms));
  const size_t before = shoal::testing::Process::readFile(leaderLog).size();
  leader.signal(SIGCONT);
  auto code = leader.wait(20s);
  ASSERT_TRUE(code.has_value()) << "the paused leader did not exit after losing its lease";
  EXPECT_NE(*code, 0);
  const std::string after = shoal::testing::Process::readFile(leaderLog).substr(before);
  EXPECT_NE(after.find("lost leadership"), std::string::npos) << after;
  EXPECT_EQ(after.find("scaled worker pool"), std::string::npos)
      << "the stale leader wrote after waking:\n" << after;
  EXPECT_EQ(deploymentReplicas(ns, "pz-pool"), 2);
}

}  // namespace
}  // namespace shoal
