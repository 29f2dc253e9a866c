// Pipeline reconcile against fakes: SourceReady, Ready aggregation, the
// consumer group, the opt-in finalizer.
#include <gtest/gtest.h>

#include "fakes.h"
#include "shoal/controllers/pipeline_controller.h"

namespace shoal::controllers {
namespace {

using nlohmann::json;

class PipelineReconcileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store.pipelines["prod/orders"] = testfakes::samplePipeline();
    store.secrets["prod/redis-auth/password"] = "s3cret";
    inspector->setBacklog(7, 3);
  }
  json condition(const std::string& type) {
    for (const auto& c : store.pipelines["prod/orders"]["status"]["conditions"]) {
      if (c["type"] == type) return c;
    }
    return json();
  }
  void reconcile() {
    clock.advance(std::chrono::seconds(5));
    auto r = reconciler.reconcile("prod", "orders");
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  ManualClock clock;
  testfakes::FakeStore store;
  testfakes::FakeEvents events;
  std::shared_ptr<testfakes::FakeInspector> inspector =
      std::make_shared<testfakes::FakeInspector>();
  probe::BacklogProbe probe{inspector, clock};
  PipelineReconciler reconciler{store, events, probe, clock};
};

TEST_F(PipelineReconcileTest, SourceReadyAndReadyAggregatesPools) {
  reconcile();
  EXPECT_EQ(condition("SourceReady")["status"], "True");
  EXPECT_EQ(condition("Ready")["status"], "False");
  EXPECT_EQ(condition("Ready")["reason"], "NoWorkerPools");
  json st = store.pipelines["prod/orders"]["status"];
  EXPECT_EQ(st["backlog"]["total"], 10);
  EXPECT_EQ(st["sink"], "elasticsearch");

  json pool = testfakes::samplePool();
  pool["status"]["conditions"] = json::array(
      {{{"type", "Ready"}, {"status", "True"}, {"reason", "WorkersReady"}, {"message", ""}}});
  store.pools["prod/orders-workers"] = pool;
  json other = testfakes::samplePool();
  other["metadata"]["name"] = "unrelated";
  other["spec"]["pipelineRef"]["name"] = "elsewhere";
  store.pools["prod/unrelated"] = other;
  reconcile();
  const json pools = store.pipelines["prod/orders"]["status"]["pools"];
  ASSERT_EQ(pools.size(), 1u);
  EXPECT_EQ(pools[0]["name"], "orders-workers");
  EXPECT_EQ(pools[0]["ready"], true);
  EXPECT_EQ(condition("Ready")["status"], "True");
}

TEST_F(PipelineReconcileTest, UnreachableRedisIsNotSourceReady) {
  inspector->reachable = false;
  reconcile();
  EXPECT_EQ(condition("SourceReady")["status"], "False");
  EXPECT_EQ(condition("SourceReady")["reason"], "RedisUnreachable");
  EXPECT_EQ(condition("Ready")["reason"], "SourceNotReady");
}

TEST_F(PipelineReconcileTest, MissingGroupIsCreated) {
  inspector->groupExists = false;
  reconcile();
  EXPECT_EQ(inspector->creates, 1);
  EXPECT_EQ(condition("SourceReady")["status"], "True");
  EXPECT_EQ(events.count("ConsumerGroupCreated"), 1);
}

TEST_F(PipelineReconcileTest, NoFinalizerUnlessGroupDeletionIsAskedFor) {
  reconcile();
  EXPECT_FALSE(store.pipelines["prod/orders"]["metadata"].contains("finalizers") &&
               !store.pipelines["prod/orders"]["metadata"]["finalizers"].empty());
  store.pipelines["prod/orders"]["spec"]["consumerGroupDeletionPolicy"] = "DeleteConsumerGroup";
  reconcile();
  EXPECT_EQ(store.pipelines["prod/orders"]["metadata"]["finalizers"],
            json::array({"shoal.dev/consumer-group"}));
  store.pipelines["prod/orders"]["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  reconcile();
  EXPECT_EQ(inspector->destroys, 1);
  EXPECT_TRUE(store.pipelines["prod/orders"]["metadata"]["finalizers"].empty());
}

}  // namespace
}  // namespace shoal::controllers
