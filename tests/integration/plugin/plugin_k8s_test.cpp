// The real kubectl-shoal binary against a real kube-apiserver + etcd and a
// real redis-server that requires a password (given to the plugin only
// through the Pipeline's Secret): status and why from a WorkerPool's status
// and Events, the dead-letter stream with its reasons, replay that moves each
// entry exactly once (twice in a row, and two replays at once), kubectl's
// plugin mechanism, and the failures a user meets (unknown pool, Redis not
// reachable at the spec's address, --redis-url).
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <memory>
#include <set>

#include "shoal/api/meta.h"
#include "shoal/redis/client.h"
#include "shoal/testing/kube_control_plane.h"
#include "shoal/testing/process.h"
#include "shoal/testing/servers.h"

namespace shoal {
namespace {

using nlohmann::json;
using shoal::testing::KubeControlPlane;
using namespace std::chrono_literals;

const std::string kBinDir = std::string(SHOAL_BINARY_DIR) + "/operator/cmd";
const std::string kPlugin = kBinDir + "/kubectl-shoal";
const std::string kNs = "plug";
const std::string kOtherNs = "plug-other";
const std::string kRedisPassword = "pw-plugin-7";

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string ago(std::chrono::seconds s) {
  return api::formatTime(std::chrono::system_clock::now() - s);
}

/// The control plane, the CRDs, Redis and the objects every test reads.
class PluginEnv {
 public:
  PluginEnv() {
    auto r =
        cp.kubectl({"apply", "-f", std::string(SHOAL_SOURCE_DIR) + "/crds/shoal.dev_pipelines.yaml",
                    "-f", std::string(SHOAL_SOURCE_DIR) + "/crds/shoal.dev_workerpools.yaml"});
    if (r.exitCode != 0) throw std::runtime_error("applying CRDs: " + r.err);
    r = cp.kubectl({"wait", "--for=condition=Established", "--timeout=60s",
                    "crd/pipelines.shoal.dev", "crd/workerpools.shoal.dev"});
    if (r.exitCode != 0) throw std::runtime_error("CRDs not established: " + r.err);
    for (const auto& ns : {kNs, kOtherNs}) cp.kubectl({"create", "namespace", ns});
    r = cp.kubectl({"create", "secret", "generic", "redis-auth", "-n", kNs,
                    "--from-literal=password=" + kRedisPassword});
    if (r.exitCode != 0) throw std::runtime_error("secret: " + r.err);
  }

  redis::Client& redisClient() {
    if (!redisClient_) {
      redis::ConnectionOptions o;
      o.port = redis.port();
      o.password = kRedisPassword;
      redisClient_ = std::make_unique<redis::Client>(o, clock_);
    }
    return *redisClient_;
  }

  KubeControlPlane cp;
  shoal::testing::RedisServer redis{
      shoal::testing::RedisServer::Options{.password = kRedisPassword}};
  shoal::testing::TempDir dir;

 private:
  SystemClock clock_;
  std::unique_ptr<redis::Client> redisClient_;
};

PluginEnv* env = nullptr;

class PluginEnvCleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    delete env;
    env = nullptr;
  }
};
const auto* const kCleanup = ::testing::AddGlobalTestEnvironment(new PluginEnvCleanup);

struct Invocation {
  int code = -1;
  std::string out, err;
};

class PluginK8sTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (KubeControlPlane::missing()) return;
    if (env == nullptr) env = new PluginEnv();
  }
  void SetUp() override {
    SHOAL_REQUIRE_K8S();
    ASSERT_NE(env, nullptr);
  }

  /// Runs kubectl-shoal (or `kubectl shoal` with the binary's directory on
  /// PATH and the kubeconfig in $KUBECONFIG) with stdinText on stdin.
  static Invocation shoal(const std::vector<std::string>& args, const std::string& stdinText = "",
                          const std::string& kubectl = "") {
    static int n = 0;
    const std::string base = env->dir.file("run" + std::to_string(n++));
    std::ofstream(base + ".in") << stdinText;
    std::string cmd;
    if (kubectl.empty()) {
      cmd = quote(kPlugin) + " --kubeconfig " + quote(env->cp.kubeconfig());
    } else {
      cmd = "KUBECONFIG=" + quote(env->cp.kubeconfig()) + " PATH=" + quote(kBinDir) + ":$PATH " +
            quote(kubectl) + " shoal";
    }
    // Global flags after the subcommand, as people type them.
    std::string rest;
    for (const auto& a : args) rest += " " + quote(a);
    cmd = cmd + rest + " < " + quote(base + ".in") + " > " + quote(base + ".out") + " 2> " +
          quote(base + ".err");
    Invocation r;
    shoal::testing::runCommand(cmd, false, &r.code);
    r.out = shoal::testing::Process::readFile(base + ".out");
    r.err = shoal::testing::Process::readFile(base + ".err");
    return r;
  }

  static KubeControlPlane::CommandResult kubectl(const std::vector<std::string>& args,
                                                 const std::string& in = "") {
    return env->cp.kubectl(args, in);
  }

  static void apply(const json& obj) {
    auto r = kubectl({"apply", "-f", "-"}, obj.dump());
    ASSERT_EQ(r.exitCode, 0) << r.err;
  }

  static json pipeline(const std::string& ns, const std::string& name, const std::string& address,
                       const std::string& stream) {
    return {
        {"apiVersion", "shoal.dev/v1alpha1"},
        {"kind", "Pipeline"},
        {"metadata", {{"name", name}, {"namespace", ns}}},
        {"spec",
         {{"type", "logs"},
          {"source",
           {{"redis",
             {{"address", address},
              {"stream", stream},
              {"consumerGroup", "shoal"},
              {"passwordSecretRef", {{"name", "redis-auth"}, {"key", "password"}}}}}}},
          {"sink", {{"elasticsearch", {{"url", "http://127.0.0.1:9200"}, {"index", "logs"}}}}}}}};
  }

  std::string localRedis() const { return "127.0.0.1:" + std::to_string(env->redis.port()); }

  /// A WorkerPool with a status written through /status; returns its uid.
  static std::string poolWithStatus(const std::string& ns, const std::string& name,
                                    const std::string& pipelineName, const json& status) {
    json pool = {{"apiVersion", "shoal.dev/v1alpha1"},
                 {"kind", "WorkerPool"},
                 {"metadata", {{"name", name}, {"namespace", ns}}},
                 {"spec",
                  {{"pipelineRef", {{"name", pipelineName}}},
                   {"minReplicas", 1},
                   {"maxReplicas", 10},
                   {"scaling", {{"policy", "drainTime"}, {"drainSeconds", 120}}}}}};
    apply(pool);
    auto r = kubectl({"patch", "workerpool", name, "-n", ns, "--subresource=status", "--type=merge",
                      "-p", json{{"status", status}}.dump()});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    r = kubectl({"get", "workerpool", name, "-n", ns, "-o", "jsonpath={.metadata.uid}"});
    EXPECT_EQ(r.exitCode, 0) << r.err;
    return r.out;
  }

  static json condition(const std::string& type, const std::string& status,
                        const std::string& reason, const std::string& message) {
    return {{"type", type},       {"status", status},        {"reason", reason},
            {"message", message}, {"observedGeneration", 1}, {"lastTransitionTime", ago(120s)}};
  }

  static json scalingUpStatus() {
    return {{"observedGeneration", 1},
            {"replicas", 5},
            {"readyReplicas", 3},
            {"desiredReplicas", 5},
            {"backlog", {{"lag", 11500}, {"pending", 500}, {"total", 12000}}},
            {"arrivalRate", 250.0},
            {"consumptionRate", 400.0},
            {"estimatedDrainSeconds", 79.2},
            {"lastScaleTime", ago(120s)},
            {"selector", "app.kubernetes.io/instance=app"},
            {"scaler", {{"learnedThroughput", 80.0}, {"lastScaleUpTime", ago(120s)}}},
            {"conditions",
             {condition("Ready", "False", "WaitingForWorkers", "3 of 5 workers ready."),
              condition("ScalingActive", "True", "ScaledUpForBacklog",
                        "scaling up from 3 to 5 replicas: backlog 12000, arrivals 250.0/s"),
              condition("ScalingLimited", "False", "WithinLimits", "Within limits."),
              condition("Fallback", "False", "BacklogMeasured", "Measured.")}}};
  }

  static void event(const std::string& ns, const std::string& name, const std::string& pool,
                    const std::string& uid, const std::string& reason, const std::string& message) {
    json ev = {{"apiVersion", "v1"},
               {"kind", "Event"},
               {"metadata", {{"name", name}, {"namespace", ns}}},
               {"involvedObject",
                {{"apiVersion", "shoal.dev/v1alpha1"},
                 {"kind", "WorkerPool"},
                 {"name", pool},
                 {"namespace", ns},
                 {"uid", uid}}},
               {"reason", reason},
               {"message", message},
               {"type", "Normal"},
               {"count", 1},
               {"firstTimestamp", ago(120s)},
               {"lastTimestamp", ago(120s)},
               {"source", {{"component", "shoal-operator"}}}};
    auto r = kubectl({"create", "-f", "-"}, ev.dump());
    ASSERT_EQ(r.exitCode, 0) << r.err;
  }

  /// XADD of a dead letter as the worker writes it; returns its id.
  static std::string deadLetter(const std::string& stream, const std::string& message,
                                const std::string& reason, int deliveries) {
    auto id = env->redisClient().add(stream + ":dead",
                                     {{"message", message},
                                      {"host", "web-1"},
                                      {"shoal.reason", reason},
                                      {"shoal.original_id", "1700000000000-0"},
                                      {"shoal.stream", stream},
                                      {"shoal.group", "shoal"},
                                      {"shoal.deliveries", std::to_string(deliveries)}});
    EXPECT_TRUE(id.ok()) << id.error().message;
    return id.ok() ? id.value() : "";
  }

  static int64_t xlen(const std::string& stream) {
    auto r = env->redisClient().command({"XLEN", stream});
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value().integer : -1;
  }

  static std::vector<StreamEntry> entries(const std::string& stream) {
    auto r = env->redisClient().command({"XRANGE", stream, "-", "+"});
    EXPECT_TRUE(r.ok());
    auto e = redis::decodeEntries(r.value());
    EXPECT_TRUE(e.ok());
    return e.ok() ? e.value() : std::vector<StreamEntry>{};
  }
};

TEST_F(PluginK8sTest, StatusShowsBacklogRatesReplicasDrainAndConditions) {
  apply(pipeline(kNs, "status-pipe", localRedis(), "logs:status"));
  poolWithStatus(kNs, "app", "status-pipe", scalingUpStatus());
  poolWithStatus(kOtherNs, "metrics", "nowhere",
                 {{"observedGeneration", 1},
                  {"replicas", 2},
                  {"readyReplicas", 2},
                  {"desiredReplicas", 2},
                  {"conditions",
                   {condition("Ready", "True", "WorkersReady", "2 of 2 workers ready."),
                    condition("ScalingActive", "False", "RedisUnreachable",
                              "Cannot read the backlog: connection refused.")}}});

  Invocation r = shoal({"status", "-n", kNs});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* s :
       {"NAME", "app", "status-pipe", "3/5", "12000", "11500", "250.0/s", "400.0/s", "1m20s",
        "ScaledUpForBacklog", "Conditions:", "WaitingForWorkers", "3 of 5 workers ready."}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  }
  EXPECT_EQ(r.out.find("metrics"), std::string::npos) << "another namespace's pool";

  r = shoal({"status", "-A"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("NAMESPACE", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("plug-other/metrics"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("RedisUnreachable"), std::string::npos) << r.out;

  r = shoal({"status", "app", "-n", kNs, "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json doc = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << r.out;
  ASSERT_EQ(doc["pools"].size(), 1u);
  EXPECT_EQ(doc["pools"][0]["backlog"]["total"], 12000);
  EXPECT_EQ(doc["pools"][0]["readyReplicas"], 3);
  EXPECT_EQ(doc["pools"][0]["conditions"].size(), 4u);

  r = shoal({"status", "-n", kOtherNs, "-o", "yaml"});
  ASSERT_EQ(r.code, 0) << r.err;
  YAML::Node y = YAML::Load(r.out);
  EXPECT_EQ(y["pools"][0]["name"].as<std::string>(), "metrics");
  EXPECT_TRUE(y["pools"][0]["backlog"]["total"].IsNull());

  r = shoal({"status", "nosuch", "-n", kNs});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("not found"), std::string::npos) << r.err;

  r = shoal({"status", "-n", "empty-ns"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("No WorkerPools found in namespace empty-ns."), std::string::npos) << r.err;
}

TEST_F(PluginK8sTest, WhyExplainsTheDecisionFromStatusAndThePoolsEvents) {
  apply(pipeline(kNs, "why-pipe", localRedis(), "logs:why"));
  const std::string uid = poolWithStatus(kNs, "why-pool", "why-pipe", scalingUpStatus());
  ASSERT_FALSE(uid.empty());
  event(kNs, "why-pool.1", "why-pool", uid, "ScaledUp",
        "Scaled from 3 to 5 workers (ScaledUpForBacklog: scaling up from 3 to 5 replicas).");
  event(kNs, "other.1", "other", "u-other", "ScaledDown",
        "Scaled from 9 to 1 worker (other pool).");

  Invocation r = shoal({"why", "why-pool", "-n", kNs});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* s :
       {"WorkerPool plug/why-pool (pipeline why-pipe; policy drainTime",
        "5 wanted, 3 ready, 5 running", "Decision (ScalingActive=True", "ScaledUpForBacklog",
        "would not be cleared in time", "Operator: scaling up from 3 to 5 replicas",
        "measured throughput 80.0 entries/s", "Scaled from 3 to 5 workers",
        "ScaledUp: The operator added workers."}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  }
  EXPECT_EQ(r.out.find("other pool"), std::string::npos) << r.out;

  r = shoal({"why", "why-pool", "-n", kNs, "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json doc = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << r.out;
  EXPECT_EQ(doc["decision"]["reason"], "ScaledUpForBacklog");
  ASSERT_EQ(doc["events"].size(), 1u);
  EXPECT_EQ(doc["events"][0]["reason"], "ScaledUp");

  r = shoal({"why", "nosuch", "-n", kNs});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("nosuch"), std::string::npos) << r.err;
}

TEST_F(PluginK8sTest, RunsAsAKubectlPlugin) {
  const std::string kubectlBin = shoal::testing::findK8sBinary("kubectl");
  if (kubectlBin.empty()) GTEST_SKIP() << "no kubectl binary";
  apply(pipeline(kNs, "plugin-pipe", localRedis(), "logs:plugin"));
  poolWithStatus(kNs, "via-kubectl", "plugin-pipe", scalingUpStatus());
  Invocation r = shoal({"status", "via-kubectl", "-n", kNs}, "", kubectlBin);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("via-kubectl"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("12000"), std::string::npos) << r.out;
  r = shoal({"status", "--bogus"}, "", kubectlBin);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--bogus"), std::string::npos) << r.err;
}

TEST_F(PluginK8sTest, DlqListsDeadLettersWithReasonsUsingTheSecretsCredentials) {
  apply(pipeline(kNs, "dlq-pipe", localRedis(), "logs:dlq"));
  const std::string a = deadLetter("logs:dlq", "{not json", "parse: invalid JSON at offset 1", 1);
  const std::string b = deadLetter("logs:dlq", "ok", "delivered 5 times without success", 5);
  const std::string c = deadLetter("logs:dlq", "big", "entry too large: 2000000 bytes", 1);

  Invocation r = shoal({"dlq", "dlq-pipe", "-n", kNs});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const std::string& s :
       {std::string("Dead-letter stream logs:dlq:dead of Pipeline plug/dlq-pipe (source logs:dlq, "
                    "group shoal): 3 entries"),
        a, b, c, std::string("parse: invalid JSON at offset 1"),
        std::string("delivered 5 times without success"),
        std::string("message={not json host=web-1")}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  }

  r = shoal({"dlq", "dlq-pipe", "-n", kNs, "--tail", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(c), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(a), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(the newest 1 of 3; --tail -1 shows all)"), std::string::npos) << r.out;

  r = shoal({"dlq", "dlq-pipe", "-n", kNs, "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json doc = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << r.out;
  ASSERT_EQ(doc["entries"].size(), 3u);
  EXPECT_EQ(doc["entries"][0]["id"], a);
  EXPECT_EQ(doc["entries"][0]["reason"], "parse: invalid JSON at offset 1");
  EXPECT_EQ(doc["entries"][1]["deliveries"], 5);
  EXPECT_EQ(doc["entries"][0]["fields"][0]["value"], "{not json");

  // Without the Secret the same Redis refuses the plugin.
  auto del = kubectl({"delete", "secret", "redis-auth", "-n", kNs});
  ASSERT_EQ(del.exitCode, 0) << del.err;
  r = shoal({"dlq", "dlq-pipe", "-n", kNs});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("redis-auth"), std::string::npos) << r.err;
  auto re = kubectl({"create", "secret", "generic", "redis-auth", "-n", kNs,
                     "--from-literal=password=" + kRedisPassword});
  ASSERT_EQ(re.exitCode, 0) << re.err;
}

TEST_F(PluginK8sTest, RedisUrlReplacesAnAddressOnlyTheClusterResolves) {
  apply(pipeline(kNs, "remote-pipe", "redis.shoal-system.svc.invalid:6379", "logs:remote"));
  deadLetter("logs:remote", "x", "parse: empty entry", 1);
  Invocation r = shoal({"dlq", "remote-pipe", "-n", kNs});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot reach Redis at redis.shoal-system.svc.invalid:6379"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("--redis-url"), std::string::npos) << r.err;

  // The address from the flag, the password still from the Secret.
  r = shoal({"dlq", "remote-pipe", "-n", kNs, "--redis-url", "redis://" + localRedis()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("parse: empty entry"), std::string::npos) << r.out;

  // A wrong password in the URL wins over the Secret's, and Redis says no.
  r = shoal({"dlq", "remote-pipe", "-n", kNs, "--redis-url", "redis://:wrong@" + localRedis()});
  EXPECT_EQ(r.code, 1);
  EXPECT_FALSE(r.err.empty());
}

TEST_F(PluginK8sTest, ReplayMovesEachEntryBackOnceAndEmptiesTheDeadLetterStream) {
  apply(pipeline(kNs, "replay-pipe", localRedis(), "logs:replay"));
  ASSERT_TRUE(env->redisClient().add("logs:replay", {{"message", "already there"}}).ok());
  const std::string a = deadLetter("logs:replay", "{bad 1", "parse: invalid JSON", 1);
  const std::string b = deadLetter("logs:replay", "{bad 2", "delivered 5 times", 5);

  Invocation r = shoal({"replay", "replay-pipe", "-n", kNs, "--all", "--dry-run"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("would replay " + a + " -> logs:replay"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("dry run: 2 of 2 entries would move"), std::string::npos) << r.out;
  EXPECT_EQ(xlen("logs:replay:dead"), 2);
  EXPECT_EQ(xlen("logs:replay"), 1);

  r = shoal({"replay", "replay-pipe", "-n", kNs, "--all"}, "n\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("Move 2 entries from logs:replay:dead back to logs:replay"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("replay cancelled: nothing changed"), std::string::npos) << r.err;
  EXPECT_EQ(xlen("logs:replay:dead"), 2);
  EXPECT_EQ(xlen("logs:replay"), 1);

  r = shoal({"replay", "replay-pipe", "-n", kNs, "--all"}, "y\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("2 replayed from logs:replay:dead to logs:replay, 0 skipped"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(xlen("logs:replay:dead"), 0);
  auto source = entries("logs:replay");
  ASSERT_EQ(source.size(), 3u);
  // The original fields, in order, without what the worker added.
  EXPECT_EQ(source[1].fields, (std::vector<std::pair<std::string, std::string>>{
                                  {"message", "{bad 1"}, {"host", "web-1"}}));
  EXPECT_EQ(*source[2].field("message"), "{bad 2");

  // Twice: nothing more moves.
  r = shoal({"replay", "replay-pipe", "-n", kNs, "--all", "--yes"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("nothing to replay: logs:replay:dead holds no entries of this Pipeline"),
            std::string::npos)
      << r.out;
  r = shoal({"replay", "replay-pipe", "-n", kNs, "--ids", a + "," + b, "--yes", "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json doc = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << r.out;
  ASSERT_EQ(doc["items"].size(), 2u);
  EXPECT_EQ(doc["items"][0]["outcome"], "NotInDeadLetterStream");
  EXPECT_EQ(doc["items"][1]["outcome"], "NotInDeadLetterStream");
  EXPECT_EQ(xlen("logs:replay"), 3);
  EXPECT_EQ(xlen("logs:replay:dead"), 0);

  // --ids moves just those.
  const std::string c = deadLetter("logs:replay", "{bad 3", "parse: invalid JSON", 1);
  const std::string d = deadLetter("logs:replay", "{bad 4", "parse: invalid JSON", 1);
  r = shoal({"replay", "replay-pipe", "-n", kNs, "--ids", d, "--yes"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("replayed " + d + " -> logs:replay"), std::string::npos) << r.out;
  EXPECT_EQ(xlen("logs:replay"), 4);
  ASSERT_EQ(entries("logs:replay:dead").size(), 1u);
  EXPECT_EQ(entries("logs:replay:dead")[0].id, c);
}

TEST_F(PluginK8sTest, TwoReplaysAtOnceStillMoveEachEntryOnce) {
  apply(pipeline(kNs, "race-pipe", localRedis(), "logs:race"));
  constexpr int kEntries = 200;
  for (int i = 0; i < kEntries; ++i) deadLetter("logs:race", "e" + std::to_string(i), "r", 1);
  const std::string one = quote(kPlugin) + " --kubeconfig " + quote(env->cp.kubeconfig()) +
                          " replay race-pipe -n " + kNs + " --all --yes > /dev/null";
  int code = -1;
  shoal::testing::runCommand("(" + one + " & a=$!; " + one + " & b=$!; wait $a && wait $b)", false,
                             &code);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(xlen("logs:race:dead"), 0);
  auto source = entries("logs:race");
  EXPECT_EQ(source.size(), static_cast<size_t>(kEntries));
  std::set<std::string> messages;
  for (const auto& e : source) messages.insert(*e.field("message"));
  EXPECT_EQ(messages.size(), static_cast<size_t>(kEntries)) << "no entry was moved twice";
}

TEST_F(PluginK8sTest, WithoutAccessToSecretsDlqSaysSoAndWorksWithCredentialsInTheUrl) {
  apply(pipeline(kNs, "rbac-pipe", localRedis(), "logs:rbac"));
  deadLetter("logs:rbac", "x", "parse: not JSON", 1);
  // A viewer: Shoal's resources and Events, no Secrets.
  auto r0 = kubectl({"create", "role", "shoal-viewer", "-n", kNs, "--verb=get,list",
                     "--resource=workerpools.shoal.dev,pipelines.shoal.dev,events"});
  ASSERT_EQ(r0.exitCode, 0) << r0.err;
  r0 = kubectl({"create", "rolebinding", "shoal-viewer", "-n", kNs, "--role=shoal-viewer",
                "--serviceaccount=" + kNs + ":viewer"});
  ASSERT_EQ(r0.exitCode, 0) << r0.err;
  const std::string kubeconfig = env->cp.serviceAccountKubeconfig(kNs, "viewer");
  auto as = [&](std::vector<std::string> args) {
    args.push_back("--kubeconfig");
    args.push_back(kubeconfig);  // the later --kubeconfig wins
    return shoal(args);
  };
  Invocation r = as({"status", "-n", kNs});
  EXPECT_EQ(r.code, 0) << r.err;
  r = as({"dlq", "rbac-pipe", "-n", kNs});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("forbidden"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--redis-url"), std::string::npos) << r.err;
  r = as({"dlq", "rbac-pipe", "-n", kNs, "--redis-url",
          "redis://:" + kRedisPassword + "@" + localRedis()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("parse: not JSON"), std::string::npos) << r.out;
  r = as({"status", "-A"});
  EXPECT_EQ(r.code, 1) << "no cluster-wide list for this user";
  EXPECT_NE(r.err.find("not allowed to read workerpools.shoal.dev"), std::string::npos) << r.err;
}

TEST_F(PluginK8sTest, ReadsWhatTheRealOperatorWrites) {
  const std::string ns = "plug-op";
  kubectl({"create", "namespace", ns});
  auto sec = kubectl({"create", "secret", "generic", "redis-auth", "-n", ns,
                      "--from-literal=password=" + kRedisPassword});
  ASSERT_EQ(sec.exitCode, 0) << sec.err;
  shoal::testing::Process::Options o;
  o.argv = {std::string(SHOAL_BINARY_DIR) + "/operator/cmd/shoal-operator",
            "--kubeconfig",
            env->cp.kubeconfig(),
            "--namespace",
            ns,
            "--metrics-bind-address",
            "127.0.0.1:" + std::to_string(shoal::testing::freePort()),
            "--health-probe-bind-address",
            "127.0.0.1:" + std::to_string(shoal::testing::freePort())};
  o.stderrPath = env->dir.file("operator.log");
  shoal::testing::Process op(o);

  for (int i = 0; i < 35; ++i) {
    ASSERT_TRUE(env->redisClient().add("logs:op", {{"message", "m" + std::to_string(i)}}).ok());
  }
  json p = pipeline(ns, "op-pipe", localRedis(), "logs:op");
  p["spec"]["source"]["redis"]["startId"] = "0";
  apply(p);
  apply({{"apiVersion", "shoal.dev/v1alpha1"},
         {"kind", "WorkerPool"},
         {"metadata", {{"name", "op-pool"}, {"namespace", ns}}},
         {"spec",
          {{"pipelineRef", {{"name", "op-pipe"}}},
           {"minReplicas", 1},
           {"maxReplicas", 5},
           {"scaling",
            {{"policy", "targetBacklogPerReplica"},
             {"targetBacklogPerReplica", 10},
             {"pollIntervalSeconds", 1}}}}}});
  // Steady state: nothing consumes, so the scaler holds 4 workers for the 35
  // entries (AtDesiredReplicas) from its second poll on.
  const std::string reason = "AtDesiredReplicas";
  ASSERT_TRUE(shoal::testing::waitUntil(
      [&] {
        auto got = kubectl({"get", "workerpool", "op-pool", "-n", ns, "-o", "json"});
        json pool = json::parse(got.out, nullptr, false);
        const json& st = pool.is_object() ? pool.value("status", json::object()) : json::object();
        std::string now;
        for (const auto& c : st.value("conditions", json::array())) {
          if (c.value("type", "") == "ScalingActive") now = c.value("reason", "");
        }
        return st.value("desiredReplicas", 0) == 4 &&
               st.value("backlog", json::object()).value("total", -1) == 35 && now == reason;
      },
      60s, 200ms))
      << "operator log:\n"
      << shoal::testing::Process::readFile(env->dir.file("operator.log"));

  Invocation r = shoal({"status", "op-pool", "-n", ns});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const std::string& s : {std::string("op-pool"), std::string("op-pipe"), std::string("/4"),
                               std::string("35"), reason}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  }

  // The operator's Events arrive asynchronously after its status write.
  json why;
  ASSERT_TRUE(shoal::testing::waitUntil(
      [&] {
        r = shoal({"why", "op-pool", "-n", ns, "-o", "json"});
        why = json::parse(r.out, nullptr, false);
        return r.code == 0 && why.is_object() && !why["events"].empty();
      },
      30s, 200ms))
      << r.err << r.out;
  EXPECT_EQ(why["decision"]["reason"], reason);
  // The pool may be reconciled before the Pipeline controller created the
  // group (then it starts at minReplicas and scales up on the next poll) or
  // after (then it starts at 4): either way one event created the
  // Deployment and one brought it to 4 (events of the same second have no
  // order, so none is assumed).
  bool created = false, toFour = false;
  for (const auto& e : why["events"]) {
    created = created || e["reason"] == "WorkersCreated";
    toFour = toFour || e["toReplicas"] == 4;
  }
  EXPECT_TRUE(created) << why.dump(2);
  EXPECT_TRUE(toFour) << why.dump(2);
  r = shoal({"why", "op-pool", "-n", ns});
  ASSERT_EQ(r.code, 0) << r.err;
  const bool createdAt4 = r.out.find("Created the worker Deployment with 4 workers.") != std::string::npos;
  const bool scaledTo4 = r.out.find("ScaledUp         1 -> 4") != std::string::npos;
  EXPECT_TRUE(createdAt4 || scaledTo4) << r.out;
  EXPECT_NE(r.out.find("35 entries"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("policy targetBacklogPerReplica: one worker per 10 entries of backlog"),
            std::string::npos)
      << r.out;
}

TEST_F(PluginK8sTest, ShardedPipelineDlqMergesShardsAndReplayReturnsEachEntryToItsShard) {
  json p = pipeline(kNs, "shard-pipe", localRedis(), "logs:shard");
  p["spec"]["source"]["redis"]["shards"] = 3;
  apply(p);
  // The worker of shard i dead-letters into "<stream>:{i}:dead", naming its shard stream.
  const std::string a = deadLetter("logs:shard:{1}", "{bad a", "parse: invalid JSON", 1);
  const std::string b = deadLetter("logs:shard:{2}", "{bad b", "delivered 5 times", 5);

  Invocation r = shoal({"dlq", "shard-pipe", "-n", kNs});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("3 shards"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 entries"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1/" + a), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2/" + b), std::string::npos) << r.out;

  r = shoal({"dlq", "shard-pipe", "-n", kNs, "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json doc = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << r.out;
  EXPECT_EQ(doc["length"], 2);
  EXPECT_EQ(doc["shards"].size(), 3u) << r.out;

  // "<shard>/<id>" names one shard's entry; it goes back to its own shard stream.
  r = shoal({"replay", "shard-pipe", "-n", kNs, "--ids", "1/" + a, "--yes"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("replayed 1/" + a + " -> logs:shard:{1}"), std::string::npos) << r.out;
  EXPECT_EQ(xlen("logs:shard:{1}"), 1);
  EXPECT_EQ(xlen("logs:shard:{1}:dead"), 0);
  EXPECT_EQ(xlen("logs:shard:{2}:dead"), 1);

  // A plain id is looked up in every shard: found in one, it moves.
  r = shoal({"replay", "shard-pipe", "-n", kNs, "--ids", b, "--yes"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("replayed 2/" + b + " -> logs:shard:{2}"), std::string::npos) << r.out;
  EXPECT_EQ(xlen("logs:shard:{2}"), 1);
  EXPECT_EQ(xlen("logs:shard:{2}:dead"), 0);
  EXPECT_EQ(*entries("logs:shard:{2}")[0].field("message"), "{bad b");
  EXPECT_EQ(xlen("logs:shard:{0}"), 0);
  EXPECT_EQ(xlen("logs:shard"), 0);

  // The same id in two shards: a plain id is ambiguous, fails and moves nothing;
  // --all moves both.
  for (const char* shard : {"logs:shard:{0}", "logs:shard:{2}"}) {
    auto x = env->redisClient().command({"XADD", std::string(shard) + ":dead", "9999999999999-1", "message", "{dup",
                                         "shoal.reason", "parse: invalid JSON", "shoal.stream", shard,
                                         "shoal.group", "shoal", "shoal.deliveries", "1"});
    ASSERT_TRUE(x.ok() && !x->isError());
  }
  r = shoal({"replay", "shard-pipe", "-n", kNs, "--ids", "9999999999999-1", "--yes"});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("failed 9999999999999-1: in several shards' dead-letter streams: name one as <shard>/<id>"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(xlen("logs:shard:{0}:dead") + xlen("logs:shard:{2}:dead"), 2);
  r = shoal({"replay", "shard-pipe", "-n", kNs, "--all", "--yes"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("replayed 0/9999999999999-1 -> logs:shard:{0}"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("replayed 2/9999999999999-1 -> logs:shard:{2}"), std::string::npos) << r.out;
  EXPECT_EQ(xlen("logs:shard:{0}"), 1);
  EXPECT_EQ(xlen("logs:shard:{2}"), 2);

  // An id no shard holds: one skipped line, exit 0.
  r = shoal({"replay", "shard-pipe", "-n", kNs, "--ids", "5-0", "--yes"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("skipped 5-0"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace shoal
