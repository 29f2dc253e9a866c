// WorkerPool reconcile against fakes: scaling, status, conditions, events.
#include <gtest/gtest.h>

#include "fakes.h"
#include "shoal/controllers/conditions.h"
#include "shoal/controllers/worker_pool_controller.h"

namespace shoal::controllers {
namespace {

using nlohmann::json;
using testfakes::FakeBackend;
using testfakes::FakeEvents;
using testfakes::FakeInspector;
using testfakes::FakeStore;

const std::string kPoolKey = "prod/orders-workers";

/// The scale changes the reconciler reports to its metrics.
class RecordingPoolMetrics : public PoolMetrics {
 public:
  struct Scaling {
    int32_t from = 0;
    int32_t to = 0;
    std::string reason;
  };
  void observePool(const api::WorkerPool&, const api::WorkerPoolStatus&) override {}
  void forgetPool(const std::string&, const std::string&) override {}
  void scaled(const api::WorkerPool&, int32_t from, int32_t to, std::string_view reason) override {
    scalings.push_back({from, to, std::string(reason)});
  }
  std::vector<Scaling> scalings;
};

class WorkerPoolReconcileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store.pipelines["prod/orders"] = testfakes::samplePipeline();
    store.pools[kPoolKey] = testfakes::samplePool();
    store.secrets["prod/redis-auth/password"] = "s3cret";
    inspector->setBacklog(0, 0);
  }
  Action tick() {
    clock.advance(std::chrono::seconds(2));
    auto r = reconciler.reconcile("prod", "orders-workers");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r.value() : Action{};
  }
  int32_t replicas() { return backend.workloads[kPoolKey].specReplicas; }
  json status() { return store.poolStatus(kPoolKey); }
  json condition(const std::string& type) {
    const json st = status();
    for (const auto& c : st["conditions"]) {
      if (c["type"] == type) return c;
    }
    return json();
  }

  ManualClock clock;
  FakeStore store;
  FakeBackend backend;
  FakeEvents events;
  std::shared_ptr<FakeInspector> inspector = std::make_shared<FakeInspector>();
  probe::BacklogProbe probe{inspector, clock};
  RecordingPoolMetrics metrics;
  WorkerPoolReconciler reconciler{store, backend, events, probe, clock, &metrics};
};

TEST_F(WorkerPoolReconcileTest, FirstVisitCreatesWorkersAndWritesEveryCondition) {
  Action a = tick();
  ASSERT_TRUE(a.requeueAfter.has_value());
  EXPECT_EQ(*a.requeueAfter, std::chrono::seconds(2));
  EXPECT_TRUE(backend.workloads[kPoolKey].exists);
  EXPECT_EQ(replicas(), 1);  // minReplicas
  EXPECT_EQ(events.count("WorkersCreated"), 1);
  EXPECT_EQ(inspector->lastPassword, "s3cret");
  json st = status();
  EXPECT_EQ(st["observedGeneration"], 3);
  EXPECT_EQ(st["desiredReplicas"], 1);
  EXPECT_EQ(st["selector"],
            "app.kubernetes.io/instance=orders-workers,app.kubernetes.io/name=shoal-worker");
  for (const char* t : {"Ready", "ScalingActive", "ScalingLimited", "Fallback"}) {
    EXPECT_FALSE(condition(t).is_null()) << t;
    EXPECT_EQ(condition(t)["observedGeneration"], 3) << t;
  }
  EXPECT_EQ(condition("Ready")["status"], "True");
  EXPECT_EQ(condition("ScalingActive")["status"], "True");
  EXPECT_EQ(condition("Fallback")["status"], "False");
}

TEST_F(WorkerPoolReconcileTest, BacklogScalesUpAtOnceAndDownAfterStabilization) {
  tick();
  inspector->setBacklog(450, 50);  // 500 / 100 per replica
  tick();
  EXPECT_EQ(replicas(), 5);
  EXPECT_EQ(events.count("ScaledUp"), 1);
  EXPECT_EQ(status()["backlog"]["total"], 500);
  EXPECT_EQ(status()["backlog"]["lag"], 450);
  EXPECT_EQ(status()["backlog"]["pending"], 50);
  EXPECT_EQ(status()["desiredReplicas"], 5);
  EXPECT_TRUE(status()["lastScaleTime"].is_string());

  // Entries keep arriving (5 per poll) but one worker is enough now.
  inspector->setBacklog(5, 0);
  tick();
  EXPECT_EQ(replicas(), 5) << "scale-down waits for the stabilization window";
  int ticks = 1;
  for (; ticks < 20 && replicas() != 1; ++ticks) inspector->setBacklog(5, 0), tick();
  EXPECT_EQ(replicas(), 1);
  EXPECT_GE(ticks * 2, 10) << "not before the 10 s window has passed";
  EXPECT_GE(events.count("ScaledDown"), 1);
  // Each change reaches the metrics with the decision's reason; creating
  // the Deployment is not a scale.
  ASSERT_GE(metrics.scalings.size(), 2u);
  EXPECT_EQ(metrics.scalings[0].from, 1);
  EXPECT_EQ(metrics.scalings[0].to, 5);
  EXPECT_EQ(metrics.scalings[0].reason, "ScaledUpForBacklog");
  EXPECT_EQ(metrics.scalings.back().to, 1);
  EXPECT_EQ(metrics.scalings.back().reason, "ScaledDown");
  EXPECT_EQ(static_cast<int>(metrics.scalings.size()),
            events.count("ScaledUp") + events.count("ScaledDown"));
}

TEST_F(WorkerPoolReconcileTest, RedisDownNeverScalesDownAndSaysWhy) {
  tick();
  inspector->setBacklog(500, 0);
  tick();
  ASSERT_EQ(replicas(), 5);
  inspector->reachable = false;
  for (int i = 0; i < 20; ++i) tick();
  EXPECT_EQ(replicas(), 5);
  EXPECT_EQ(condition("ScalingActive")["status"], "False");
  EXPECT_EQ(condition("ScalingActive")["reason"], "RedisUnreachable");
  EXPECT_NE(condition("ScalingActive")["message"].get<std::string>().find("connection refused"),
            std::string::npos);
  // Nothing measured this poll: no backlog, rates or drain estimate shown.
  EXPECT_TRUE(status()["backlog"].value("total", json()).is_null()) << status().dump();
  EXPECT_TRUE(status()["backlog"].value("lag", json()).is_null());
  EXPECT_TRUE(status()["arrivalRate"].is_null());
  EXPECT_TRUE(status()["estimatedDrainSeconds"].is_null());
}

TEST_F(WorkerPoolReconcileTest, NilLagIsUnknownAndHolds) {
  tick();
  inspector->setBacklog(500, 0);
  tick();
  ASSERT_EQ(replicas(), 5);
  inspector->snapshot.lag.reset();
  for (int i = 0; i < 20; ++i) tick();
  EXPECT_EQ(replicas(), 5);
  EXPECT_EQ(condition("ScalingActive")["status"], "False");
  EXPECT_EQ(condition("ScalingActive")["reason"], "BacklogUnknown");
}

TEST_F(WorkerPoolReconcileTest, MaxReplicasLimitsAndSaysSo) {
  tick();
  inspector->setBacklog(100000, 0);
  tick();
  EXPECT_EQ(replicas(), 8);
  EXPECT_EQ(condition("ScalingLimited")["status"], "True");
  EXPECT_EQ(condition("ScalingLimited")["reason"], "LimitedByMaxReplicas");
}

TEST_F(WorkerPoolReconcileTest, PausedFollowsSpecReplicas) {
  store.pools[kPoolKey]["spec"]["scaling"]["paused"] = true;
  store.pools[kPoolKey]["spec"]["replicas"] = 3;
  inspector->setBacklog(100000, 0);
  tick();
  EXPECT_EQ(replicas(), 3);
  EXPECT_EQ(condition("ScalingActive")["status"], "False");
  EXPECT_EQ(condition("ScalingActive")["reason"], "ScalingPaused");
  store.pools[kPoolKey]["spec"]["replicas"] = 0;
  tick();
  EXPECT_EQ(replicas(), 0);
}

TEST_F(WorkerPoolReconcileTest, MissingPipelineIsReportedNotFatal) {
  store.pipelines.clear();
  auto r = reconciler.reconcile("prod", "orders-workers");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(condition("Ready")["status"], "False");
  EXPECT_EQ(condition("Ready")["reason"], "PipelineNotFound");
  EXPECT_EQ(condition("ScalingActive")["reason"], "PipelineNotFound");
  EXPECT_EQ(backend.ensures, 0);
}

TEST_F(WorkerPoolReconcileTest, MissingSecretIsReported) {
  store.secrets.clear();
  tick();
  EXPECT_EQ(condition("ScalingActive")["status"], "False");
  EXPECT_NE(condition("ScalingActive")["message"].get<std::string>().find("redis-auth"),
            std::string::npos);
  EXPECT_EQ(inspector->inspects, 0);
}

TEST_F(WorkerPoolReconcileTest, PipelineChangeRollsWorkersThroughTheHash) {
  tick();
  std::string before = backend.workloads[kPoolKey].configHash;
  store.pipelines["prod/orders"]["spec"]["delivery"]["batchSize"] = 50;
  tick();
  EXPECT_NE(backend.workloads[kPoolKey].configHash, before);
}

TEST_F(WorkerPoolReconcileTest, StatusIsNotRewrittenWhenNothingChanged) {
  tick();
  tick();
  int writes = store.statusWrites;
  tick();
  tick();
  EXPECT_EQ(store.statusWrites, writes);
  std::string t = condition("Ready")["lastTransitionTime"];
  backend.readyImmediately = false;
  inspector->setBacklog(500, 0);
  tick();
  EXPECT_EQ(condition("Ready")["status"], "False");
  EXPECT_EQ(condition("Ready")["reason"], "WaitingForWorkers");
  EXPECT_GT(store.statusWrites, writes);
}

TEST_F(WorkerPoolReconcileTest, DeletedPoolAwaitsAndForgets) {
  tick();
  store.pools.clear();
  auto r = reconciler.reconcile("prod", "orders-workers");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.value().requeueAfter.has_value());
}

// A successor (a new leader after a failover, or the operator restarted)
// is a new reconciler over the same API: it knows only what status says.
class WorkerPoolFailoverTest : public WorkerPoolReconcileTest {
 protected:
  void SetUp() override {
    WorkerPoolReconcileTest::SetUp();
    auto& sc = store.pools[kPoolKey]["spec"]["scaling"];
    sc = {{"policy", "drainTime"},
          {"drainSeconds", 60},
          {"perReplicaThroughput", 500},
          {"pollIntervalSeconds", 2},
          {"scaleDown", {{"stabilizationSeconds", 10}, {"periodSeconds", 1}, {"percent", 100}}}};
  }
  // A backlog that no one consumes and nothing is added to (workers stalled).
  void holdBacklog(int64_t n) {
    inspector->snapshot.lag = n;
    inspector->snapshot.pending = 0;
    inspector->snapshot.entriesAdded = n;
    inspector->snapshot.entriesRead = 0;
  }
  Action tickWith(WorkerPoolReconciler& r) {
    clock.advance(std::chrono::seconds(2));
    auto a = r.reconcile("prod", "orders-workers");
    EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.error().message);
    return a.ok() ? a.value() : Action{};
  }
};

TEST_F(WorkerPoolFailoverTest, ASuccessorKeepsTheInheritedBacklogsDeadlineAndScalesNothingDown) {
  holdBacklog(20000);
  // The first leader watches the backlog age: its drain deadline (60 s from
  // when the backlog formed) nears, so it wants more workers as time passes.
  for (int i = 0; i < 25; ++i) tick();
  const int32_t before = replicas();
  ASSERT_EQ(before, 4) << status().dump(2);
  EXPECT_TRUE(status()["scaler"]["backlogSince"].is_string()) << status().dump(2);

  probe::BacklogProbe successorProbe{inspector, clock};
  WorkerPoolReconciler successor{store, backend, events, successorProbe, clock};
  for (int i = 0; i < 30; ++i) {
    tickWith(successor);
    ASSERT_GE(replicas(), before) << "tick " << i << ": " << condition("ScalingActive").dump();
  }
  // Once the backlog is gone, it scales down as usual.
  holdBacklog(0);
  for (int i = 0; i < 15 && replicas() > 1; ++i) tickWith(successor);
  EXPECT_EQ(replicas(), 1) << condition("ScalingActive").dump();
}

TEST_F(WorkerPoolFailoverTest, ASuccessorWatchesAFullWindowBeforeItScalesDown) {
  // Leader: a burst, then a small backlog that would allow 1 worker.
  holdBacklog(0);
  tick();
  tick();
  inspector->setBacklog(40000, 0);
  tick();
  ASSERT_GT(replicas(), 1);
  const int32_t scaled = replicas();
  inspector->setBacklog(10, 0);
  tick();  // the leader's window (10 s) still holds the burst's count
  ASSERT_EQ(replicas(), scaled);

  probe::BacklogProbe successorProbe{inspector, clock};
  WorkerPoolReconciler successor{store, backend, events, successorProbe, clock};
  const MonoTime tookOver = clock.now();
  while (replicas() == scaled && clock.now() - tookOver < std::chrono::seconds(60)) {
    inspector->setBacklog(10, 0);
    tickWith(successor);
  }
  EXPECT_LT(replicas(), scaled) << "it does scale down in the end";
  EXPECT_GE(clock.now() - tookOver, std::chrono::seconds(10))
      << "not before it watched a full 10 s stabilization window itself";
}

TEST_F(WorkerPoolFailoverTest, AnIdleStreamWaitsForTheWindowAfterATakeoverToo) {
  holdBacklog(0);
  tick();
  inspector->setBacklog(40000, 0);
  tick();
  const int32_t scaled = replicas();
  ASSERT_GT(scaled, 1);
  probe::BacklogProbe successorProbe{inspector, clock};
  WorkerPoolReconciler successor{store, backend, events, successorProbe, clock};
  // Drained, no arrivals: whenIdle immediate would drop to the floor at once.
  inspector->snapshot.lag = 0;
  inspector->snapshot.entriesRead = inspector->snapshot.entriesAdded;
  const MonoTime tookOver = clock.now();
  tickWith(successor);  // the first poll only takes the counters
  while (replicas() == scaled && clock.now() - tookOver < std::chrono::seconds(60)) {
    tickWith(successor);
    if (replicas() == scaled) {
      EXPECT_EQ(condition("ScalingActive")["reason"], "StabilizingScaleDown")
          << condition("ScalingActive").dump();
    }
  }
  EXPECT_EQ(replicas(), 1);
  EXPECT_GE(clock.now() - tookOver, std::chrono::seconds(10));
}

TEST_F(WorkerPoolFailoverTest, ASteadyPoolWritesNoNewStatusEvenWithTheScalerMemory) {
  holdBacklog(0);
  for (int i = 0; i < 10; ++i) tick();
  const int writes = store.statusWrites;
  for (int i = 0; i < 5; ++i) tick();
  EXPECT_EQ(store.statusWrites, writes) << status()["scaler"].dump();
}

// A scale the backend could not apply is not reported as made.
TEST_F(WorkerPoolReconcileTest, AScaleThatWasNotAppliedIsNotClaimed) {
  backend.failEnsure = "Deployment.apps \"x\" is invalid: metadata.labels: Invalid value";
  inspector->setBacklog(500, 0);
  clock.advance(std::chrono::seconds(2));
  auto r = reconciler.reconcile("prod", "orders-workers");
  ASSERT_FALSE(r.ok()) << "the failure goes back to the queue for a retry with backoff";
  EXPECT_EQ(condition("Ready")["reason"], "WorkloadApplyFailed");
  EXPECT_EQ(condition("ScalingActive")["status"], "False") << condition("ScalingActive").dump();
  EXPECT_EQ(condition("ScalingActive")["reason"], "ScaleNotApplied");
  const std::string msg = condition("ScalingActive")["message"];
  EXPECT_EQ(msg.find("scaling up"), std::string::npos) << msg;
  EXPECT_NE(msg.find("could not be applied"), std::string::npos) << msg;
  EXPECT_EQ(events.count("ScaledUp"), 0);
  EXPECT_EQ(events.count("WorkersCreated"), 0);
}

// A spec the API server would have refused (local mode reads files, older
// CRDs had fewer bounds) is scaled on clamped values, and says so.
TEST_F(WorkerPoolReconcileTest, AnInvalidScalingSpecIsReportedNotSilentlyClamped) {
  store.pools[kPoolKey]["spec"]["scaling"]["headroom"] = 0.5;
  store.pools[kPoolKey]["spec"]["scaling"]["scaleDown"]["whenIdle"] = "sometimes";
  inspector->setBacklog(500, 0);
  tick();
  EXPECT_EQ(replicas(), 5) << "still scales, on the nearest valid values";
  const json c = condition("ScalingActive");
  EXPECT_EQ(c["reason"], "InvalidScalingSpec") << c.dump();
  EXPECT_EQ(c["status"], "True");
  const std::string msg = c["message"];
  EXPECT_NE(msg.find("spec.scaling.headroom must be >= 1"), std::string::npos) << msg;
  EXPECT_NE(msg.find("; spec.scaling.scaleDown.whenIdle must be immediate or damped"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ScaledUpFromZero: scaling up from 0 to 5"), std::string::npos) << msg;
  EXPECT_GE(events.count("InvalidScalingSpec"), 1);
  // Fixed: the condition goes back to the decision's own reason.
  store.pools[kPoolKey]["spec"]["scaling"]["headroom"] = 1.2;
  store.pools[kPoolKey]["spec"]["scaling"]["scaleDown"].erase("whenIdle");
  tick();
  EXPECT_NE(condition("ScalingActive")["reason"], "InvalidScalingSpec");
}

TEST(ScalingSpecProblems, AValidSpecHasNone) {
  auto pool = api::workerPoolFromJson(testfakes::samplePool()).value();
  EXPECT_TRUE(scalingSpecProblems(pool).empty());
  auto j = testfakes::samplePool();
  j["spec"]["scaling"]["policy"] = "fastest";
  auto bad = api::workerPoolFromJson(j);
  ASSERT_TRUE(bad.ok()) << "the API server's enum check is not repeated when reading";
  auto problems = scalingSpecProblems(bad.value());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("scaling.policy"), std::string::npos);
}

TEST(ScalingSpecOf, ReadsWhenIdle) {
  auto j = testfakes::samplePool();
  auto pool = api::workerPoolFromJson(j).value();
  EXPECT_EQ(scalingSpecOf(pool).scaling.scaleDown.whenIdle, policy::IdleScaleDown::kImmediate);
  j["spec"]["scaling"]["scaleDown"]["whenIdle"] = "damped";
  pool = api::workerPoolFromJson(j).value();
  EXPECT_EQ(scalingSpecOf(pool).scaling.scaleDown.whenIdle, policy::IdleScaleDown::kDamped);
}

TEST(ScalingSpecOf, MapsCrdFieldsToThePolicy) {
  auto pool = api::workerPoolFromJson(testfakes::samplePool()).value();
  auto s = scalingSpecOf(pool);
  EXPECT_EQ(s.minReplicas, 1);
  EXPECT_EQ(s.maxReplicas, 8);
  EXPECT_EQ(s.scaling.policy, policy::ScalingPolicyKind::kTargetBacklogPerReplica);
  EXPECT_EQ(s.scaling.targetBacklogPerReplica, 100);
  EXPECT_DOUBLE_EQ(s.scaling.scaleDown.stabilizationSeconds, 10);
  EXPECT_EQ(s.scaling.scaleDown.percent, 100);
  EXPECT_DOUBLE_EQ(s.scaling.pollIntervalSeconds, 2);
}

// The operator's own connection to Redis gets the TLS material from the
// Pipeline's Secrets as PEM text; a missing Secret key is an error naming it.
TEST(RedisTargetOf, ReadsTlsCaAndClientCertificateFromSecrets) {
  FakeStore store;
  json pj = testfakes::samplePipeline();
  pj["spec"]["source"]["redis"]["tls"] = {{"enabled", true},
                                          {"caSecretRef", {{"name", "redis-ca"}}},
                                          {"clientCertSecretRef", {{"name", "redis-client"}}}};
  api::Pipeline p = api::pipelineFromJson(pj).value();
  store.secrets["prod/redis-auth/password"] = "s3cret";
  store.secrets["prod/redis-ca/ca.crt"] = "CA PEM";
  store.secrets["prod/redis-client/tls.crt"] = "CERT PEM";
  auto missingKey = redisTargetOf(p, store);
  ASSERT_FALSE(missingKey.ok());
  EXPECT_NE(missingKey.error().message.find("redis-client has no key tls.key"), std::string::npos)
      << missingKey.error().message;
  store.secrets["prod/redis-client/tls.key"] = "KEY PEM";
  auto t = redisTargetOf(p, store);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_TRUE(t->tls);
  EXPECT_EQ(t->password, "s3cret");
  EXPECT_EQ(t->tlsCaPem, "CA PEM");
  EXPECT_EQ(t->tlsCertPem, "CERT PEM");
  EXPECT_EQ(t->tlsKeyPem, "KEY PEM");
}

}  // namespace
}  // namespace shoal::controllers
