// ConsumerLoop against a real redis-server with an in-process fake handler:
// acknowledgement only of delivered entries, dead letters with reasons, own
// pending first, reclaiming a dead consumer's entries, poison entries past
// maxDeliveries, and draining on stop.
#include <gtest/gtest.h>

#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "shoal/testing/servers.h"
#include "shoal/worker/consumer_loop.h"

namespace shoal {
namespace {

using shoal::testing::RedisServer;
using shoal::testing::waitUntil;

// Records what it was given; decides per entry through `decide`.
class FakeHandler : public BatchHandler {
 public:
  std::function<EntryResult(const StreamEntry&, const CancelToken&)> decide = [](const StreamEntry&, const CancelToken&) {
    return EntryResult{EntryOutcome::kDelivered, {}};
  };
  std::vector<EntryResult> handle(std::span<const StreamEntry> entries, const CancelToken& cancel) override {
    std::vector<EntryResult> out;
    std::lock_guard lk(mu);
    batchSizes.push_back(entries.size());
    for (const auto& e : entries) {
      seen.push_back(e);
      out.push_back(decide(e, cancel));
    }
    return out;
  }
  bool sinkReady() override { return true; }
  std::string sinkName() const override { return "fake"; }
  std::vector<StreamEntry> snapshot() {
    std::lock_guard lk(mu);
    return seen;
  }
  std::mutex mu;
  std::vector<StreamEntry> seen;
  std::vector<size_t> batchSizes;
};

class ConsumerLoopTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new RedisServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    server_->cli("FLUSHALL");
    cfg_.type = "logs";
    cfg_.redis.host = "127.0.0.1";
    cfg_.redis.port = server_->port();
    cfg_.redis.stream = "events";
    cfg_.redis.consumerGroup = "g";
    cfg_.redis.startId = "0";
    cfg_.redis.deadLetterStream = "events:dead";
    cfg_.redis.maxDeliveries = 3;
    cfg_.redis.claimMinIdleMs = 1;
    cfg_.redis.claimIntervalMs = 0;  // tests call sweepOnce()
    cfg_.redis.blockMs = 20;
    cfg_.delivery.batchSize = 100;
    cfg_.delivery.lingerMs = 0;
    cfg_.consumerName = "live";
    client_ = std::make_unique<redis::Client>(redisOptions(cfg_.redis), SystemClock::instance());
  }
  void addEntries(int n, const std::string& prefix = "m") {
    std::vector<redis::Command> cmds;
    for (int i = 0; i < n; ++i) cmds.push_back({"XADD", cfg_.redis.stream, "*", "message", prefix + std::to_string(i)});
    ASSERT_TRUE(client_->pipeline(cmds).ok());
  }
  int64_t pending() {
    auto s = client_->pendingSummary(cfg_.redis.stream, cfg_.redis.consumerGroup);
    return s.ok() ? s->count : -1;
  }
  std::vector<StreamEntry> deadLetters() {
    auto r = client_->command({"XRANGE", cfg_.redis.deadLetterStream, "-", "+"});
    auto d = redis::decodeEntries(*r);
    return d.ok() ? *d : std::vector<StreamEntry>{};
  }
  // Steps until pred holds (bounded).
  void stepUntil(ConsumerLoop& loop, const std::function<bool()>& pred, int maxSteps = 500) {
    for (int i = 0; i < maxSteps && !pred(); ++i) loop.step();
    ASSERT_TRUE(pred());
  }

  static RedisServer* server_;
  PipelineConfig cfg_;
  std::unique_ptr<redis::Client> client_;
  ManualClock clock_;
  prometheus::Registry registry_;
  FakeHandler handler_;
};
RedisServer* ConsumerLoopTest::server_ = nullptr;

TEST_F(ConsumerLoopTest, DeliversEveryEntryOnceAndAcknowledgesIt) {
  ConsumerLoop loop(cfg_, handler_, clock_, registry_);
  addEntries(1000);
  stepUntil(loop, [&] { return loop.stats().delivered == 1000; });
  EXPECT_EQ(pending(), 0);
  auto seen = handler_.snapshot();
  std::set<std::string> ids;
  for (auto& e : seen) ids.insert(e.id);
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_EQ(seen.size(), 1000u);
  for (size_t n : handler_.batchSizes) EXPECT_LE(n, 100u);
  EXPECT_EQ(loop.stats().read, 1000);
  EXPECT_TRUE(loop.redisReachable());
}

TEST_F(ConsumerLoopTest, BatchBytesBoundsABatch) {
  cfg_.delivery.batchBytes = 1000;  // ~ 30 bytes per entry
  ConsumerLoop loop(cfg_, handler_, clock_, registry_);
  addEntries(200);
  stepUntil(loop, [&] { return loop.stats().delivered == 200; });
  for (size_t n : handler_.batchSizes) EXPECT_LE(n, 1000u / 20);
  EXPECT_EQ(pending(), 0);
}

TEST_F(ConsumerLoopTest, DeadLettersGoToTheDeadStreamWithReasonsThenAreAcknowledged) {
  handler_.decide = [](const StreamEntry& e, const CancelToken&) {
    if (e.field("message")->find("bad") == 0) return EntryResult{EntryOutcome::kDeadLetter, "parse: not JSON"};
    return EntryResult{EntryOutcome::kDelivered, {}};
  };
  cfg_.delivery.maxEntryBytes = 500;
  ConsumerLoop loop(cfg_, handler_, clock_, registry_);
  addEntries(10, "good");
  addEntries(3, "bad");
  ASSERT_TRUE(client_->add(cfg_.redis.stream, {{"message", std::string(600, 'x')}}).ok());
  stepUntil(loop, [&] { return loop.stats().delivered + loop.stats().deadLettered == 14; });
  EXPECT_EQ(loop.stats().delivered, 10);
  EXPECT_EQ(loop.stats().deadLettered, 4);
  EXPECT_EQ(pending(), 0);
  auto dead = deadLetters();
  ASSERT_EQ(dead.size(), 4u);
  int parse = 0, big = 0;
  for (const auto& d : dead) {
    ASSERT_NE(d.field("shoal.reason"), nullptr);
    ASSERT_NE(d.field("shoal.original_id"), nullptr);
    EXPECT_EQ(*d.field("shoal.stream"), "events");
    EXPECT_EQ(*d.field("shoal.group"), "g");
    EXPECT_EQ(*d.field("shoal.deliveries"), "1");
    ASSERT_NE(d.field("message"), nullptr);  // the original fields are kept
    if (*d.field("shoal.reason") == "parse: not JSON") ++parse;
    if (d.field("shoal.reason")->find("maxEntryBytes") != std::string::npos) ++big;
  }
  EXPECT_EQ(parse, 3);
  EXPECT_EQ(big, 1);
  for (auto& e : handler_.snapshot()) EXPECT_LT(e.bytes(), 500u);  // the big one never reached the handler
}

TEST_F(ConsumerLoopTest, RetryOutcomesStayPending) {
  handler_.decide = [](const StreamEntry& e, const CancelToken&) {
    if (*e.field("message") == "m1") return EntryResult{EntryOutcome::kRetry, {}};
    return EntryResult{EntryOutcome::kDelivered, {}};
  };
  ConsumerLoop loop(cfg_, handler_, clock_, registry_);
  addEntries(5);
  stepUntil(loop, [&] { return loop.stats().delivered == 4; });
  EXPECT_EQ(loop.stats().retried, 1);
  EXPECT_EQ(pending(), 1);
}

TEST_F(ConsumerLoopTest, ReadsOwnPendingFirstWithDeliveryCounts) {
  ASSERT_TRUE(client_->createGroup(cfg_.redis.stream, cfg_.redis.consumerGroup, "0").ok());
  addEntries(3, "old");
  ASSERT_EQ(client_->readGroup(cfg_.redis.stream, "g", "live", ">", 10, -1)->size(), 3u);  // a crashed run
  addEntries(2, "new");
  ConsumerLoop loop(cfg_, handler_, clock_, registry_);
  stepUntil(loop, [&] { return loop.stats().delivered == 5; });
  auto seen = handler_.snapshot();
  ASSERT_EQ(seen.size(), 5u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(seen[i].field("message")->substr(0, 3), "old");
    EXPECT_EQ(seen[i].deliveries, 2);
  }
  EXPECT_EQ(seen[3].deliveries, 1);
  EXPECT_EQ(pending(), 0);
}

TEST_F(ConsumerLoopTest, SweepTakesOverADeadConsumersEntries) {
  ASSERT_TRUE(client_->createGroup(cfg_.redis.stream, "g", "0").ok());
  addEntries(20);
  ASSERT_EQ(client_->readGroup(cfg_.redis.stream, "g", "dead-pod", ">", 20, -1)->size(), 20u);
  ASSERT_TRUE(waitUntil([&] {
    auto rows = client_->pendingRange(cfg_.redis.stream, "g", "-", "+", 1, "dead-pod", 5);
    return rows.ok() && !rows->empty();
  }));
  ConsumerLoop loop(cfg_, handler_, clock_, registry_);
  EXPECT_EQ(*loop.sweepOnce(), 0);  // not before its own pending list was read
  loop.step();
  auto claimed = loop.sweepOnce();
  ASSERT_TRUE(claimed.ok()) << claimed.error().message;
  EXPECT_EQ(*claimed, 20);
  stepUntil(loop, [&] { return loop.stats().delivered == 20; });
  EXPECT_EQ(pending(), 0);
  for (auto& e : handler_.snapshot()) EXPECT_EQ(e.deliveries, 2);
  EXPECT_EQ(loop.stats().claimed, 20);
}

TEST_F(ConsumerLoopTest, PoisonEntryIsDeadLetteredAfterMaxDeliveries) {
  ASSERT_TRUE(client_->createGroup(cfg_.redis.stream, "g", "0").ok());
  auto id = client_->add(cfg_.redis.stream, {{"message", "poison"}});
  ASSERT_TRUE(id.ok());
  ASSERT_EQ(client_->readGroup(cfg_.redis.stream, "g", "crashed-1", ">", 1, -1)->size(), 1u);
  for (const char* c : {"crashed-2", "crashed-3"})  // two more pods took it and died
    ASSERT_TRUE(client_->command({"XCLAIM", cfg_.redis.stream, "g", c, "0", *id}).ok());
  ASSERT_TRUE(waitUntil([&] {
    auto rows = client_->pendingRange(cfg_.redis.stream, "g", "-", "+", 1, "", 5);
    return rows.ok() && !rows->empty();
  }));
  ConsumerLoop loop(cfg_, handler_, clock_, registry_);
  loop.step();
  ASSERT_EQ(*loop.sweepOnce(), 1);
  stepUntil(loop, [&] { return loop.stats().deadLettered == 1; });
  EXPECT_TRUE(handler_.snapshot().empty());
  auto dead = deadLetters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(*dead[0].field("shoal.original_id"), *id);
  EXPECT_EQ(*dead[0].field("shoal.deliveries"), "4");
  EXPECT_NE(dead[0].field("shoal.reason")->find("maxDeliveries 3"), std::string::npos);
  EXPECT_EQ(pending(), 0);
}

TEST_F(ConsumerLoopTest, HandlerReturningTooFewResultsLeavesTheRestPending) {
  class ShortHandler : public FakeHandler {
   public:
    std::vector<EntryResult> handle(std::span<const StreamEntry> entries, const CancelToken& c) override {
      auto r = FakeHandler::handle(entries, c);
      r.resize(r.size() / 2);
      return r;
    }
  } shortHandler;
  ConsumerLoop loop(cfg_, shortHandler, clock_, registry_);
  addEntries(10);
  stepUntil(loop, [&] { return loop.stats().read == 10 && loop.stats().batches >= 1; });
  EXPECT_EQ(loop.stats().delivered, 5);
  EXPECT_EQ(pending(), 5);
}

TEST_F(ConsumerLoopTest, StopFinishesTheInFlightBatchAndLeavesNothingPending) {
  cfg_.delivery.lingerMs = 5;
  std::atomic<int> handled{0};
  handler_.decide = [&](const StreamEntry&, const CancelToken&) {
    ++handled;
    return EntryResult{EntryOutcome::kDelivered, {}};
  };
  ConsumerLoop loop(cfg_, handler_, SystemClock::instance(), registry_);
  std::atomic<bool> producing{true};
  std::thread producer([&] {
    redis::Client p(redisOptions(cfg_.redis), SystemClock::instance());
    int i = 0;
    while (producing.load()) ASSERT_TRUE(p.add(cfg_.redis.stream, {{"message", std::to_string(i++)}}).ok());
  });
  int rc = -1;
  std::thread runner([&] { rc = loop.run(); });
  ASSERT_TRUE(waitUntil([&] { return handled.load() > 500; }));
  loop.requestStop();
  runner.join();
  producing.store(false);
  producer.join();
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(pending(), 0);
  EXPECT_EQ(loop.stats().delivered, loop.stats().read);
}

TEST_F(ConsumerLoopTest, CancelLeavesUndeliveredEntriesPending) {
  std::atomic<bool> inHandle{false};
  handler_.decide = [&](const StreamEntry&, const CancelToken& cancel) {
    inHandle.store(true);
    while (!cancel.cancelled()) std::this_thread::yield();  // a sink that never answers
    return EntryResult{EntryOutcome::kRetry, {}};
  };
  ConsumerLoop loop(cfg_, handler_, SystemClock::instance(), registry_);
  addEntries(3);
  int rc = -1;
  std::thread runner([&] { rc = loop.run(); });
  ASSERT_TRUE(waitUntil([&] { return inHandle.load(); }));
  loop.requestStop();
  loop.cancel();
  runner.join();
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(pending(), 3);
}

TEST_F(ConsumerLoopTest, ExportsMetrics) {
  ConsumerLoop loop(cfg_, handler_, clock_, registry_);
  addEntries(7);
  stepUntil(loop, [&] { return loop.stats().delivered == 7; });
  double delivered = -1;
  for (const auto& fam : registry_.Collect())
    if (fam.name == "shoal_worker_entries_delivered_total") delivered = fam.metric.at(0).counter.value;
  EXPECT_EQ(delivered, 7);
}

}  // namespace
}  // namespace shoal
