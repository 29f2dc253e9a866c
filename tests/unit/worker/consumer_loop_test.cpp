// ConsumerLoop against the in-memory consumer group (FakeConsumerGroup) on a
// ManualClock, driven step by step: poison entries past maxDeliveries and
// oversize entries are dead-lettered with a reason and only then
// acknowledged, deleted pending entries are acknowledged without delivery,
// acknowledgement follows the handler's word (kRetry stays pending), refused
// copies stay pending, failed round trips are retried, held batches are kept
// fresh, and run() drains what it holds on stop.
#include "shoal/worker/consumer_loop.h"

#include <gtest/gtest.h>

#include <functional>
#include <mutex>
#include <thread>

#include "shoal/testing/fake_consumer_group.h"
#include "shoal/testing/process.h"

namespace shoal {
namespace {

using testing::FakeConsumerGroup;

const std::string* fieldOf(const FakeConsumerGroup::Fields& f, const std::string& name) {
  for (const auto& [k, v] : f)
    if (k == name) return &v;
  return nullptr;
}

// Records what it was given; decides per entry through `decide`.
class RecordingHandler : public BatchHandler {
 public:
  std::function<EntryResult(const StreamEntry&)> decide = [](const StreamEntry&) {
    return EntryResult{EntryOutcome::kDelivered, {}};
  };
  std::vector<EntryResult> handle(std::span<const StreamEntry> entries,
                                  const CancelToken&) override {
    std::vector<EntryResult> out;
    for (const auto& e : entries) {
      {
        std::lock_guard lk(mu);
        seen.push_back(e);
      }
      out.push_back(decide(e));
    }
    return out;
  }
  bool sinkReady() override { return true; }
  std::string sinkName() const override { return "recording"; }
  std::vector<StreamEntry> snapshot() {
    std::lock_guard lk(mu);
    return seen;
  }
  std::mutex mu;
  std::vector<StreamEntry> seen;
};

class ConsumerLoopUnitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_.type = "logs";
    cfg_.redis.stream = "events";
    cfg_.redis.consumerGroup = "g";
    cfg_.redis.deadLetterStream = "events:dead";
    cfg_.redis.maxDeliveries = 3;
    cfg_.redis.claimMinIdleMs = 1000;
    cfg_.redis.claimIntervalMs = 0;  // tests call sweepOnce()
    cfg_.redis.blockMs = 0;          // reads never wait
    cfg_.delivery.batchSize = 100;
    cfg_.delivery.lingerMs = 0;
    cfg_.consumerName = "live";
  }
  std::unique_ptr<ConsumerLoop> makeLoop() {
    return std::make_unique<ConsumerLoop>(cfg_, handler_, clock_, registry_,
                                          [this] { return group_.open(cfg_.consumerName); });
  }
  std::string addMessage(const std::string& m) { return group_.add({{"message", m}}); }
  double counter(const std::string& name) {
    for (const auto& fam : registry_.Collect())
      if (fam.name == name) return fam.metric.at(0).counter.value;
    return -1;
  }
  // Steps until pred holds (bounded).
  void stepUntil(ConsumerLoop& loop, const std::function<bool()>& pred, int maxSteps = 50) {
    for (int i = 0; i < maxSteps && !pred(); ++i) loop.step();
    ASSERT_TRUE(pred());
  }

  PipelineConfig cfg_;
  ManualClock clock_;
  FakeConsumerGroup group_{clock_};
  prometheus::Registry registry_;
  RecordingHandler handler_;
};

TEST_F(ConsumerLoopUnitTest, DeliversNewEntriesAndAcknowledgesThem) {
  auto loop = makeLoop();
  for (int i = 0; i < 5; ++i) addMessage("m" + std::to_string(i));
  stepUntil(*loop, [&] { return loop->stats().delivered == 5; });
  EXPECT_TRUE(group_.pending().empty());
  EXPECT_EQ(handler_.snapshot().size(), 5u);
  EXPECT_EQ(group_.acked().size(), 5u);
  EXPECT_EQ(loop->stats().read, 5);
  EXPECT_TRUE(loop->redisReachable());
}

TEST_F(ConsumerLoopUnitTest, PoisonEntryPastMaxDeliveriesIsDeadLetteredWithReasonThenAcknowledged) {
  group_.createGroup();
  const std::string id = addMessage("poison");
  group_.deliverNew("crashed-1", 1);
  group_.claimFor("crashed-2", id);
  group_.claimFor("crashed-3", id);  // three deliveries, all died
  clock_.advance(millis(cfg_.redis.claimMinIdleMs));
  auto loop = makeLoop();
  loop->step();  // own pending list (empty) read: the sweep may claim now
  ASSERT_EQ(*loop->sweepOnce(), 1);
  stepUntil(*loop, [&] { return loop->stats().deadLettered == 1; });

  EXPECT_TRUE(handler_.snapshot().empty());
  auto dead = group_.deadLetters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(*fieldOf(dead[0], "message"), "poison");
  EXPECT_EQ(*fieldOf(dead[0], "shoal.reason"), "delivered 4 times, more than maxDeliveries 3");
  EXPECT_EQ(*fieldOf(dead[0], "shoal.original_id"), id);
  EXPECT_EQ(*fieldOf(dead[0], "shoal.stream"), "events");
  EXPECT_EQ(*fieldOf(dead[0], "shoal.group"), "g");
  EXPECT_EQ(*fieldOf(dead[0], "shoal.deliveries"), "4");
  // The copy goes in one round trip, the acknowledgement in the next.
  auto calls = group_.ackCalls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].deadLetters.size(), 1u);
  EXPECT_TRUE(calls[0].ackIds.empty());
  EXPECT_TRUE(calls[1].deadLetters.empty());
  EXPECT_EQ(calls[1].ackIds, std::vector<std::string>{id});
  EXPECT_TRUE(group_.pending().empty());
  EXPECT_EQ(loop->stats().delivered, 0);
}

TEST_F(ConsumerLoopUnitTest, OversizeEntryIsDeadLetteredWithoutReachingTheHandler) {
  cfg_.delivery.maxEntryBytes = 500;
  auto loop = makeLoop();
  addMessage("small");
  const std::string big = addMessage(std::string(600, 'x'));
  stepUntil(*loop, [&] { return loop->stats().delivered + loop->stats().deadLettered == 2; });
  EXPECT_EQ(loop->stats().delivered, 1);
  EXPECT_EQ(loop->stats().deadLettered, 1);
  auto seen = handler_.snapshot();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(*seen[0].field("message"), "small");
  auto dead = group_.deadLetters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(*fieldOf(dead[0], "shoal.original_id"), big);
  EXPECT_EQ(*fieldOf(dead[0], "shoal.reason"),
            "entry too large: 610 bytes, more than maxEntryBytes 500");
  EXPECT_EQ(fieldOf(dead[0], "message")->size(), 600u);  // the original fields are kept
  EXPECT_TRUE(group_.pending().empty());
}

TEST_F(ConsumerLoopUnitTest, DeletedOwnPendingEntryIsAcknowledgedWithoutDelivery) {
  group_.createGroup();
  const std::string gone = addMessage("gone");
  const std::string kept = addMessage("kept");
  group_.deliverNew("live", 2);  // a crashed run of this pod
  group_.deleteEntry(gone);      // XDEL while pending
  auto loop = makeLoop();
  stepUntil(*loop, [&] { return group_.pending().empty(); });
  auto seen = handler_.snapshot();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].id, kept);
  EXPECT_TRUE(group_.deadLetters().empty());
  auto calls = group_.ackCalls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].ackIds, (std::vector<std::string>{gone, kept}));
  // Today the acknowledged deleted entry counts as delivered (XACK's count).
  EXPECT_EQ(loop->stats().delivered, 2);
}

TEST_F(ConsumerLoopUnitTest, DeletedEntryThatTheSweepFindsIsDroppedNotDelivered) {
  group_.createGroup();
  const std::string id = addMessage("gone");
  group_.deliverNew("dead-pod", 1);
  group_.deleteEntry(id);
  clock_.advance(millis(cfg_.redis.claimMinIdleMs));
  auto loop = makeLoop();
  loop->step();
  EXPECT_EQ(*loop->sweepOnce(), 0);  // the claim dropped it from the pending list
  loop->step();
  EXPECT_TRUE(handler_.snapshot().empty());
  EXPECT_TRUE(group_.ackCalls().empty());
  EXPECT_TRUE(group_.pending().empty());
}

TEST_F(ConsumerLoopUnitTest, AcknowledgesOnlyAfterTheHandlerSaidDelivered) {
  auto loop = makeLoop();
  const std::string a = addMessage("a");
  const std::string b = addMessage("b");
  std::vector<size_t> ackedWhileHandling;
  handler_.decide = [&](const StreamEntry&) {
    ackedWhileHandling.push_back(group_.acked().size());
    return EntryResult{EntryOutcome::kDelivered, {}};
  };
  ASSERT_EQ(loop->step(), 2);
  EXPECT_EQ(ackedWhileHandling, (std::vector<size_t>{0, 0}));
  EXPECT_EQ(group_.acked(), (std::vector<std::string>{a, b}));
}

TEST_F(ConsumerLoopUnitTest, RetryOutcomeLeavesTheEntryPending) {
  auto loop = makeLoop();
  addMessage("ok");
  const std::string retry = addMessage("retry");
  handler_.decide = [](const StreamEntry& e) {
    if (*e.field("message") == "retry") return EntryResult{EntryOutcome::kRetry, {}};
    return EntryResult{EntryOutcome::kDelivered, {}};
  };
  ASSERT_EQ(loop->step(), 2);
  EXPECT_EQ(loop->stats().delivered, 1);
  EXPECT_EQ(loop->stats().retried, 1);
  auto pending = group_.pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending.begin()->first, retry);
  EXPECT_EQ(pending.begin()->second.consumer, "live");
  for (const auto& id : group_.acked()) EXPECT_NE(id, retry);
}

TEST_F(ConsumerLoopUnitTest, HandlerDeadLetterIsCopiedWithItsReason) {
  auto loop = makeLoop();
  const std::string id = addMessage("not json");
  handler_.decide = [](const StreamEntry&) {
    return EntryResult{EntryOutcome::kDeadLetter, "parse: not JSON"};
  };
  ASSERT_EQ(loop->step(), 1);
  auto dead = group_.deadLetters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(*fieldOf(dead[0], "shoal.reason"), "parse: not JSON");
  EXPECT_EQ(*fieldOf(dead[0], "shoal.deliveries"), "1");
  EXPECT_EQ(group_.acked(), std::vector<std::string>{id});
  EXPECT_EQ(loop->stats().deadLettered, 1);
}

TEST_F(ConsumerLoopUnitTest, RefusedDeadLetterCopyLeavesTheEntryPending) {
  cfg_.delivery.maxEntryBytes = 100;
  auto loop = makeLoop();
  const std::string big = addMessage(std::string(200, 'x'));
  const std::string ok = addMessage("ok");
  group_.refuseDeadLetters(true);
  ASSERT_EQ(loop->step(), 2);
  EXPECT_EQ(loop->stats().deadLettered, 0);
  EXPECT_EQ(loop->stats().delivered, 1);
  EXPECT_EQ(group_.acked(), std::vector<std::string>{ok});  // never the refused one
  auto pending = group_.pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending.begin()->first, big);
}

TEST_F(ConsumerLoopUnitTest, FailedAcknowledgementRoundTripsAreRetriedOnTheClock) {
  cfg_.delivery.retryInitialMs = 100;
  auto loop = makeLoop();
  const std::string id = addMessage("a");
  group_.failRoundTrips(2);
  const MonoTime before = clock_.now();
  ASSERT_EQ(loop->step(), 1);
  auto calls = group_.ackCalls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_TRUE(calls[0].failed);
  EXPECT_TRUE(calls[1].failed);
  EXPECT_FALSE(calls[2].failed);
  EXPECT_EQ(group_.acked(), std::vector<std::string>{id});
  EXPECT_EQ(loop->stats().delivered, 1);
  EXPECT_GT(clock_.now(), before);  // the backoff waited on the injected clock
  EXPECT_TRUE(loop->redisReachable());
  EXPECT_EQ(counter("shoal_worker_redis_errors_total"), 2);
}

TEST_F(ConsumerLoopUnitTest, AGroupThatVanishedIsCreatedAgainAndReadFromTheStart) {
  auto loop = makeLoop();
  addMessage("a");
  addMessage("b");
  stepUntil(*loop, [&] { return loop->stats().delivered == 2; });
  group_.destroyGroup();  // XGROUP DESTROY (or a flushed server)
  addMessage("c");
  EXPECT_EQ(loop->step(), 0);  // NOGROUP: the group is to be created again
  EXPECT_FALSE(loop->redisReachable());
  stepUntil(*loop, [&] { return loop->stats().delivered == 5; });
  EXPECT_TRUE(loop->redisReachable());
  EXPECT_EQ(handler_.snapshot().size(), 5u);  // at least once: a and b came again
  EXPECT_TRUE(group_.pending().empty());
}

TEST_F(ConsumerLoopUnitTest, ReadsOwnPendingFirstWithTheGroupsDeliveryCounts) {
  group_.createGroup();
  addMessage("old-1");
  addMessage("old-2");
  group_.deliverNew("live", 2);  // a crashed run
  addMessage("new");
  auto loop = makeLoop();
  stepUntil(*loop, [&] { return loop->stats().delivered == 3; });
  auto seen = handler_.snapshot();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(*seen[0].field("message"), "old-1");
  EXPECT_EQ(seen[0].deliveries, 2);
  EXPECT_EQ(*seen[1].field("message"), "old-2");
  EXPECT_EQ(seen[1].deliveries, 2);
  EXPECT_EQ(*seen[2].field("message"), "new");
  EXPECT_EQ(seen[2].deliveries, 1);
}

TEST_F(ConsumerLoopUnitTest, SweepClaimsADeadConsumersEntriesOnlyAfterOwnPending) {
  group_.createGroup();
  for (int i = 0; i < 4; ++i) addMessage("m" + std::to_string(i));
  group_.deliverNew("dead-pod", 4);
  clock_.advance(millis(cfg_.redis.claimMinIdleMs));
  auto loop = makeLoop();
  EXPECT_EQ(*loop->sweepOnce(), 0);  // not before its own pending list was read
  EXPECT_TRUE(group_.claimTimes().empty());
  loop->step();
  EXPECT_EQ(*loop->sweepOnce(), 4);
  stepUntil(*loop, [&] { return loop->stats().delivered == 4; });
  for (const auto& e : handler_.snapshot()) EXPECT_EQ(e.deliveries, 2);
  EXPECT_EQ(loop->stats().claimed, 4);
  EXPECT_TRUE(group_.pending().empty());
}

TEST_F(ConsumerLoopUnitTest, ABatchHeldLongerThanHalfTheIdleBoundIsKeptFresh) {
  auto loop = makeLoop();
  ASSERT_EQ(loop->step(), 0);  // group created, own pending list read (empty)
  const std::string id = addMessage("slow");
  int sweeps = 0;
  handler_.decide = [&](const StreamEntry&) {
    // The sink takes longer than claimMinIdleMs / 2; the sweep runs meanwhile.
    clock_.advance(millis(cfg_.redis.claimMinIdleMs / 2 + 1));
    EXPECT_EQ(*loop->sweepOnce(), 0);
    clock_.advance(millis(cfg_.redis.claimMinIdleMs / 2 + 1));
    EXPECT_EQ(*loop->sweepOnce(), 0);  // touched: never idle long enough to be claimed back
    ++sweeps;
    return EntryResult{EntryOutcome::kDelivered, {}};
  };
  ASSERT_EQ(loop->step(), 1);
  EXPECT_EQ(sweeps, 1);
  auto touches = group_.touches();
  ASSERT_EQ(touches.size(), 2u);
  EXPECT_EQ(touches[0], std::vector<std::string>{id});
  EXPECT_EQ(group_.pending().count(id), 0u);
  EXPECT_EQ(loop->stats().claimed, 0);
  EXPECT_EQ(group_.acked(), std::vector<std::string>{id});
}

TEST_F(ConsumerLoopUnitTest, StopDrainsWhatIsHeldAndLeavesNothingPending) {
  cfg_.redis.blockMs = 20;  // the fake's BLOCK waits for an entry at most this long
  cfg_.delivery.batchSize = 5;
  auto loop = makeLoop();
  for (int i = 0; i < 50; ++i) addMessage("m" + std::to_string(i));
  int rc = -1;
  std::thread runner([&] { rc = loop->run(); });
  ASSERT_TRUE(testing::waitUntil([&] { return loop->stats().delivered >= 10; }));
  loop->requestStop();
  runner.join();
  EXPECT_EQ(rc, 0);
  EXPECT_TRUE(group_.pending().empty());
  EXPECT_EQ(loop->stats().delivered, loop->stats().read);
}

}  // namespace
}  // namespace shoal
