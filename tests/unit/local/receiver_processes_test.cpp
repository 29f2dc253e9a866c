// Local mode's Receivers on a fake ProcessRunner and a ManualClock: the
// resource file's Receiver, one shoal-receiver per Receiver with the rendered
// config and Secret env, a config change waits for the old process to exit
// (the ports), crashes restart after a backoff, replicas 0 stops it, and the
// Receiver reconciler's status over these seams.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "shoal/controllers/receiver_render.h"
#include "shoal/local/event_log.h"
#include "shoal/local/file_store.h"
#include "shoal/local/receiver_processes.h"

namespace shoal::local {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const char* kResources = R"(
apiVersion: v1
kind: Secret
metadata: {name: redis-auth}
stringData: {password: s3cret}
---
apiVersion: shoal.dev/v1alpha1
kind: Receiver
metadata: {name: front}
spec:
  replicas: 1
  redis: {address: "127.0.0.1:6379", passwordSecretRef: {name: redis-auth, key: password}}
  http: {port: 8080, routes: {logs: {stream: "logs:app"}}}
  metricsPort: 9095
)";

class FakeRunner final : public ProcessRunner {
 public:
  struct Proc {
    WorkerLaunch launch;
    std::vector<int> signals;
    std::optional<int> exit;
    bool reaped = false;
  };
  std::map<pid_t, Proc> procs;
  pid_t nextPid = 2000;
  bool exitsOnTerm = true;
  bool readyAnswer = true;
  std::vector<int> readyPorts;
  Result<pid_t> spawn(const WorkerLaunch& l) override {
    procs[nextPid].launch = l;
    return nextPid++;
  }
  void signal(pid_t pid, int sig) override {
    auto& p = procs.at(pid);
    p.signals.push_back(sig);
    if (sig == SIGKILL || (sig == SIGTERM && exitsOnTerm)) p.exit = 0;
  }
  std::optional<int> poll(pid_t pid) override {
    auto& p = procs.at(pid);
    if (p.exit && !p.reaped) {
      p.reaped = true;
      return p.exit;
    }
    return std::nullopt;
  }
  bool ready(int port) override {
    readyPorts.push_back(port);
    return readyAnswer;
  }
  int freePort() override { return 0; }
  int running() const {
    int n = 0;
    for (const auto& [pid, p] : procs) n += !p.reaped && !p.exit;
    return n;
  }
};

class ReceiverProcessesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = std::filesystem::temp_directory_path() /
          ("shoal-rp-test-" + std::to_string(::getpid()) + "-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir);
    ResourceSet set;
    auto r = parseResourceText(kResources, "r.yaml", set);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ(set.receivers.size(), 1u);
    auto receivers = set.receivers;
    store = std::make_unique<FileResourceStore>(std::move(set), [](const std::string&) {
      return std::optional<std::string>();
    });
    receiverStore = std::make_unique<LocalReceiverStore>(std::move(receivers), *store);
    ReceiverProcessOptions o;
    o.receiverBinary = "/usr/bin/shoal-receiver";
    o.workDir = dir.string();
    o.grace = 5s;
    backend = std::make_unique<ReceiverProcessBackend>(o, runner, *store, &events, clock);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  api::Receiver receiver() {
    return api::receiverFromJson(*receiverStore->getReceiver("default", "front").value()).value();
  }
  controllers::WorkloadObservation ensure(const api::Receiver& r) {
    controllers::ReceiverIntent i;
    i.receiver = &r;
    i.config = controllers::renderReceiverConfig(r);
    i.configHash = controllers::configHash(i.config);
    bool changed = false;
    auto o = backend->ensure(i, &changed);
    EXPECT_TRUE(o.ok()) << o.error().message;
    return o.ok() ? o.value() : controllers::WorkloadObservation{};
  }
  int eventsNamed(const std::string& reason) {
    int n = 0;
    for (const auto& e : events.recent()) n += e.reason == reason ? static_cast<int>(e.count) : 0;
    return n;
  }

  std::filesystem::path dir;
  FakeRunner runner;
  ManualClock clock;
  EventLog events{clock};
  std::unique_ptr<FileResourceStore> store;
  std::unique_ptr<LocalReceiverStore> receiverStore;
  std::unique_ptr<ReceiverProcessBackend> backend;
};

TEST_F(ReceiverProcessesTest, AnInvalidReceiverInAFileIsNamedWithItsField) {
  ResourceSet set;
  std::string text = kResources;
  text.replace(text.find("stream: \"logs:app\""), 18, "shards: 2");
  auto r = parseResourceText(text, "bad.yaml", set);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("bad.yaml: document 2 (Receiver front)"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("spec.http.routes.logs.stream"), std::string::npos) << r.error().message;
}

TEST_F(ReceiverProcessesTest, RunsOneReceiverWithTheRenderedConfigAndSecretEnv) {
  auto o = ensure(receiver());
  ASSERT_EQ(runner.procs.size(), 1u);
  const WorkerLaunch& l = runner.procs.begin()->second.launch;
  EXPECT_EQ(l.binary, "/usr/bin/shoal-receiver");
  ASSERT_GE(l.args.size(), 2u);
  EXPECT_EQ(l.args[0], "--config");
  std::ifstream in(l.args[1]);
  std::string config((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(config, controllers::renderReceiverConfig(receiver()));
  EXPECT_EQ(l.env.at("SHOAL_REDIS_PASSWORD"), "s3cret");
  EXPECT_EQ(o.replicas, 1);
  EXPECT_EQ(o.readyReplicas, 0) << "not probed yet";
  backend->tick();
  EXPECT_EQ(runner.readyPorts.back(), 9095) << "readiness is /readyz on metricsPort";
  o = ensure(receiver());
  EXPECT_EQ(o.readyReplicas, 1);
  EXPECT_EQ(runner.procs.size(), 1u) << "ensure is idempotent";
}

TEST_F(ReceiverProcessesTest, MoreReplicasStillRunOneProcessAndSaySoOnce) {
  api::Receiver r = receiver();
  r.spec.replicas = 3;
  ensure(r);
  ensure(r);
  EXPECT_EQ(runner.running(), 1);
  EXPECT_EQ(eventsNamed("ReplicasLimited"), 1);
}

TEST_F(ReceiverProcessesTest, MoreReplicasAreReadyWithOneProcessAndTheStatusSaysWhy) {
  json obj = *receiverStore->getReceiver("default", "front").value();
  obj["spec"]["replicas"] = 3;
  LocalReceiverStore three({{"default/front", obj}}, *store);
  class Pong final : public probe::RedisPinger {
   public:
    Result<void> ping(const probe::RedisTarget&) override { return {}; }
  } pinger;
  controllers::ReceiverReconciler reconciler(three, *backend, events, pinger, clock);
  ASSERT_TRUE(reconciler.reconcile("default", "front").ok());
  backend->tick();
  ASSERT_TRUE(reconciler.reconcile("default", "front").ok());
  EXPECT_EQ(runner.running(), 1);
  const json st = (*three.getReceiver("default", "front").value())["status"];
  EXPECT_EQ(st["replicas"], 1);
  EXPECT_EQ(st["readyReplicas"], 1);
  json ready;
  for (const auto& c : st["conditions"])
    if (c["type"] == "Ready") ready = c;
  EXPECT_EQ(ready["status"], "True") << st.dump();
  EXPECT_EQ(ready["reason"], "ReceiversReady");
  EXPECT_EQ(ready["message"],
            "1 of 1 receiver pod ready (spec.replicas is 3; local mode runs one shoal-receiver per Receiver).");
  EXPECT_EQ(eventsNamed("ReplicasLimited"), 1);
  backend->shutdown();
}

TEST_F(ReceiverProcessesTest, AConfigChangeStartsTheNewProcessOnlyAfterTheOldExited) {
  runner.exitsOnTerm = false;  // drains slowly
  ensure(receiver());
  const pid_t first = runner.procs.begin()->first;
  api::Receiver changed = receiver();
  changed.spec.raw["limits"] = {{"maxConnections", 10}};
  auto o = ensure(changed);
  EXPECT_EQ(runner.procs.at(first).signals, std::vector<int>{SIGTERM});
  EXPECT_EQ(runner.procs.size(), 1u) << "the ports are still bound";
  EXPECT_FALSE(o.rolloutComplete);
  clock.advance(6s);  // past the grace period: SIGKILL, then it exits
  backend->tick();
  EXPECT_EQ(runner.procs.at(first).signals.back(), SIGKILL);
  backend->tick();
  ASSERT_EQ(runner.procs.size(), 2u);
  const WorkerLaunch& second = runner.procs.rbegin()->second.launch;
  std::ifstream in(second.args[1]);
  std::string config((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(config.find("maxConnections"), std::string::npos);
}

TEST_F(ReceiverProcessesTest, ACrashIsRestartedAfterItsBackoffAndZeroReplicasStopsIt) {
  ensure(receiver());
  const pid_t first = runner.procs.begin()->first;
  runner.procs.at(first).exit = 1;  // crashes
  backend->tick();
  EXPECT_EQ(eventsNamed("ReceiverCrashed"), 1);
  EXPECT_EQ(runner.procs.size(), 1u) << "restart waits for the backoff";
  clock.advance(1100ms);
  backend->tick();
  EXPECT_EQ(runner.procs.size(), 2u);
  EXPECT_EQ(runner.running(), 1);

  api::Receiver none = receiver();
  none.spec.replicas = 0;
  auto o = ensure(none);
  EXPECT_EQ(runner.procs.rbegin()->second.signals, std::vector<int>{SIGTERM});
  backend->tick();
  EXPECT_TRUE(backend->idle());
  o = ensure(none);
  EXPECT_EQ(o.replicas, 0);
  EXPECT_EQ(runner.procs.size(), 2u);
}

TEST_F(ReceiverProcessesTest, TheReconcilerReportsStatusOverTheLocalSeams) {
  class Pong final : public probe::RedisPinger {
   public:
    Result<void> ping(const probe::RedisTarget& t) override {
      password = t.password;
      return {};
    }
    std::string password;
  } pinger;
  controllers::ReceiverReconciler reconciler(*receiverStore, *backend, events, pinger, clock);
  ASSERT_TRUE(reconciler.reconcile("default", "front").ok());
  backend->tick();
  ASSERT_TRUE(reconciler.reconcile("default", "front").ok());
  const json st = (*receiverStore->getReceiver("default", "front").value())["status"];
  EXPECT_EQ(st["readyReplicas"], 1);
  EXPECT_EQ(pinger.password, "s3cret");
  std::map<std::string, std::string> conds;
  for (const auto& c : st["conditions"]) conds[c["type"]] = c["status"];
  EXPECT_EQ(conds["Ready"], "True");
  EXPECT_EQ(conds["RedisReachable"], "True");
  EXPECT_EQ(conds["Throttling"], "Unknown");

  backend->shutdown();
  EXPECT_TRUE(backend->idle());
}

}  // namespace
}  // namespace shoal::local
