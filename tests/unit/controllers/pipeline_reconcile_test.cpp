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

// spec.retention through the reconciler: rounds on the injected clock, at
// most once per intervalSeconds; status, condition, events and metrics.
class RecordingRetentionMetrics : public RetentionMetrics {
 public:
  void retentionTrimmed(const std::string& ns, const std::string& p, int64_t acknowledged,
                        int64_t dropped) override {
    rounds.push_back(ns + "/" + p);
    trimmed += acknowledged;
    this->dropped += dropped;
  }
  void forgetPipeline(const std::string& ns, const std::string& name) override { forgotten.push_back(ns + "/" + name); }
  std::vector<std::string> rounds, forgotten;
  int64_t trimmed = 0, dropped = 0;
};

class PipelineRetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    json p = testfakes::samplePipeline();
    p["spec"]["retention"] = json{{"intervalSeconds", 3}};
    store.pipelines["prod/orders"] = p;
    store.secrets["prod/redis-auth/password"] = "s3cret";
    inspector->setBacklog(0, 0);
    // Entries 1..10; the group read 1..6 and acknowledged all of them.
    probe::StreamModel s;
    for (uint64_t i = 1; i <= 10; ++i) s.ids.push_back({i, 0});
    s.groups = {{"shoal", {6, 0}, std::nullopt}};
    inspector->streams["orders"] = s;
  }
  json& retention() { return store.pipelines["prod/orders"]["spec"]["retention"]; }
  json& status() { return store.pipelines["prod/orders"]["status"]; }
  json condition(const std::string& type) {
    for (const auto& c : status()["conditions"])
      if (c["type"] == type) return c;
    return json();
  }
  Action reconcileAfter(Duration d) {
    clock.advance(d);
    auto r = reconciler.reconcile("prod", "orders");
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? r.value() : Action{};
  }
  size_t left() { return inspector->streams["orders"].ids.size(); }

  ManualClock clock;
  testfakes::FakeStore store;
  testfakes::FakeEvents events;
  RecordingRetentionMetrics metrics;
  std::shared_ptr<testfakes::FakeInspector> inspector = std::make_shared<testfakes::FakeInspector>();
  probe::BacklogProbe probe{inspector, clock};
  PipelineReconciler reconciler{store, events, probe, clock, std::chrono::seconds(5), &metrics};
};

TEST_F(PipelineRetentionTest, TrimsWhatTheGroupAcknowledgedAtMostOncePerInterval) {
  Action a = reconcileAfter(std::chrono::seconds(1));
  EXPECT_EQ(inspector->trims, 1);
  EXPECT_EQ(left(), 4u);
  EXPECT_EQ(a.requeueAfter, std::chrono::seconds(3)) << "the next round is due before the next poll";
  EXPECT_EQ(status()["retention"]["trimmedTotal"], 6);
  EXPECT_EQ(status()["retention"]["safeId"], "6-1");
  EXPECT_EQ(status()["retention"]["length"], 4);
  EXPECT_EQ(status()["retention"]["atCap"], false);
  EXPECT_TRUE(status()["retention"]["lastTrimTime"].is_string());
  EXPECT_EQ(condition("RetentionLimited")["status"], "False");
  EXPECT_EQ(condition("RetentionLimited")["reason"], "WithinLimits");
  EXPECT_EQ(metrics.trimmed, 6);

  // A change (another reconcile) 1 s later trims nothing: not due.
  inspector->streams["orders"].groups[0].lastDelivered = {8, 0};
  a = reconcileAfter(std::chrono::seconds(1));
  EXPECT_EQ(inspector->trims, 1);
  EXPECT_EQ(a.requeueAfter, std::chrono::seconds(2));
  a = reconcileAfter(std::chrono::seconds(2));
  EXPECT_EQ(inspector->trims, 2);
  EXPECT_EQ(left(), 2u);
  EXPECT_EQ(status()["retention"]["trimmedTotal"], 8) << "totals add up";
  EXPECT_EQ(metrics.rounds.size(), 2u);
}

TEST_F(PipelineRetentionTest, DropOldestIsCountedEventedAndShownInTheCondition) {
  retention() = json{{"maxLength", 2}, {"onFull", "dropOldest"}};
  inspector->streams["orders"].groups[0].lastDelivered = {3, 0};  // 4..10 unconsumed
  reconcileAfter(std::chrono::seconds(1));
  EXPECT_EQ(left(), 2u);
  EXPECT_EQ(status()["retention"]["trimmedTotal"], 3);
  EXPECT_EQ(status()["retention"]["droppedUnconsumedTotal"], 5);
  EXPECT_EQ(status()["retention"]["atCap"], true);
  EXPECT_EQ(metrics.dropped, 5);
  ASSERT_EQ(events.count("RetentionDroppedUnconsumed"), 1);
  EXPECT_EQ(events.events.back().type, "Warning");
  EXPECT_NE(events.events.back().message.find("Dropped 5 unconsumed entries of stream orders"), std::string::npos)
      << events.events.back().message;
  EXPECT_EQ(condition("RetentionLimited")["status"], "True");
  EXPECT_EQ(condition("RetentionLimited")["reason"], "DroppedUnconsumed");
}

TEST_F(PipelineRetentionTest, ThrottleNeverTrimsUnconsumedAndSaysTheStreamIsAtItsCap) {
  retention() = json{{"maxLength", 2}, {"intervalSeconds", 3}};  // onFull defaults to throttle
  inspector->streams["orders"].groups[0].lastDelivered = {3, 0};
  reconcileAfter(std::chrono::seconds(1));
  EXPECT_EQ(left(), 7u) << "4..10 are unconsumed and stay";
  EXPECT_EQ(status()["retention"]["droppedUnconsumedTotal"], 0);
  EXPECT_EQ(events.count("RetentionDroppedUnconsumed"), 0);
  EXPECT_EQ(condition("RetentionLimited")["status"], "True");
  EXPECT_EQ(condition("RetentionLimited")["reason"], "AtMaxLength");
  EXPECT_NE(condition("RetentionLimited")["message"].get<std::string>().find("onFull: throttle"), std::string::npos);
  // The group catches up: within limits again.
  inspector->streams["orders"].groups[0].lastDelivered = {9, 0};
  reconcileAfter(std::chrono::seconds(3));
  EXPECT_EQ(left(), 1u);
  EXPECT_EQ(condition("RetentionLimited")["status"], "False");
}

TEST_F(PipelineRetentionTest, NothingIsTrimmedWhileTheSourceCannotBeRead) {
  inspector->reachable = false;
  reconcileAfter(std::chrono::seconds(1));
  EXPECT_EQ(inspector->trims, 0);
  EXPECT_EQ(left(), 10u);
  EXPECT_EQ(condition("RetentionLimited")["status"], "Unknown");
  inspector->reachable = true;
  reconcileAfter(std::chrono::seconds(5));
  EXPECT_EQ(inspector->trims, 1) << "the round was not used up by the failed reading";
}

TEST_F(PipelineRetentionTest, ATrimFailureIsEventedAndLeavesTheTotals) {
  reconcileAfter(std::chrono::seconds(1));
  inspector->failTrimOf = "orders";
  reconcileAfter(std::chrono::seconds(3));
  EXPECT_EQ(inspector->trims, 2);
  EXPECT_EQ(events.count("RetentionTrimFailed"), 1);
  EXPECT_EQ(condition("RetentionLimited")["status"], "Unknown");
  EXPECT_EQ(condition("RetentionLimited")["reason"], "RetentionTrimFailed");
  EXPECT_EQ(status()["retention"]["trimmedTotal"], 6);
}

TEST_F(PipelineRetentionTest, ShardsAreTrimmedEachOnItsOwnStream) {
  store.pipelines["prod/orders"]["spec"]["source"]["redis"]["shards"] = 2;
  probe::StreamModel a = inspector->streams["orders"];
  probe::StreamModel b = a;
  b.groups[0].lastDelivered = {2, 0};
  inspector->streams = {{"orders:{0}", a}, {"orders:{1}", b}};
  reconcileAfter(std::chrono::seconds(1));
  EXPECT_EQ(inspector->streams["orders:{0}"].ids.size(), 4u);
  EXPECT_EQ(inspector->streams["orders:{1}"].ids.size(), 8u);
  EXPECT_EQ(status()["retention"]["trimmedTotal"], 8);
  EXPECT_EQ(status()["retention"]["length"], 12);
  EXPECT_TRUE(status()["retention"]["safeId"].is_null());
}

TEST_F(PipelineRetentionTest, WithoutRetentionNothingIsTrimmedAndItsStatusGoes) {
  reconcileAfter(std::chrono::seconds(1));
  ASSERT_FALSE(condition("RetentionLimited").is_null());
  store.pipelines["prod/orders"]["spec"].erase("retention");
  inspector->streams["orders"].groups[0].lastDelivered = {9, 0};
  reconcileAfter(std::chrono::seconds(5));
  EXPECT_EQ(inspector->trims, 1);
  EXPECT_TRUE(condition("RetentionLimited").is_null());
  EXPECT_TRUE(status()["retention"].is_null());
  store.pipelines.erase("prod/orders");
  reconcileAfter(std::chrono::seconds(1));
  EXPECT_EQ(metrics.forgotten, std::vector<std::string>{"prod/orders"});
}

}  // namespace
}  // namespace shoal::controllers
