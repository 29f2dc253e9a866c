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
  WorkerPoolReconciler reconciler{store, backend, events, probe, clock};
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
  EXPECT_FALSE(status()["backlog"].contains("total"));
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
