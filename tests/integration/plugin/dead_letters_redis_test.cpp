// The plugin's dead-letter reading and replay against a real redis-server
// and the real worker consumer loop: what the loop dead-letters is what `dlq`
// reads (reason, original id, deliveries, the entry's own fields), replay
// puts the original entry back where the same loop delivers it, each entry
// moves once even when two replays race, and long dead-letter streams are
// read in pages.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "shoal/plugin/dead_letters.h"
#include "shoal/testing/servers.h"
#include "shoal/worker/consumer_loop.h"

namespace shoal::plugin {
namespace {

using shoal::testing::RedisServer;

// Dead-letters entries whose message starts with "bad" until `fixed`.
class FlakySink : public BatchHandler {
 public:
  std::vector<EntryResult> handle(std::span<const StreamEntry> entries,
                                  const CancelToken&) override {
    std::vector<EntryResult> out;
    for (const auto& e : entries) {
      const std::string* m = e.field("message");
      if (!fixed && m && m->rfind("bad", 0) == 0) {
        out.push_back({EntryOutcome::kDeadLetter, "parse: invalid JSON at offset 0"});
      } else {
        delivered.push_back(m ? *m : "");
        out.push_back({EntryOutcome::kDelivered, {}});
      }
    }
    return out;
  }
  bool sinkReady() override { return true; }
  std::string sinkName() const override { return "flaky"; }
  bool fixed = false;
  std::vector<std::string> delivered;
};

class DeadLettersRedisTest : public ::testing::Test {
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
    cfg_.redis.claimIntervalMs = 0;
    cfg_.redis.blockMs = 20;
    cfg_.delivery.batchSize = 100;
    cfg_.delivery.lingerMs = 0;
    cfg_.consumerName = "w";
    client_ = std::make_unique<redis::Client>(redisOptions(cfg_.redis), SystemClock::instance());
    keyed_ = std::make_unique<redis::KeyedClient>(redisOptions(cfg_.redis), SystemClock::instance());
  }
  void add(const std::string& stream, const std::vector<std::string>& messages) {
    std::vector<redis::Command> cmds;
    for (const auto& m : messages)
      cmds.push_back({"XADD", stream, "*", "message", m, "host", "web-1"});
    ASSERT_TRUE(client_->pipeline(cmds).ok());
  }
  void stepUntil(ConsumerLoop& loop, const std::function<bool()>& pred) {
    for (int i = 0; i < 500 && !pred(); ++i) loop.step();
    ASSERT_TRUE(pred());
  }

  static RedisServer* server_;
  PipelineConfig cfg_;
  std::unique_ptr<redis::Client> client_;
  std::unique_ptr<redis::KeyedClient> keyed_;  // what the plugin's functions take
  ManualClock clock_;
  prometheus::Registry registry_;
  const DeadLetterSource src_{"events", "g", "events:dead"};
};
RedisServer* DeadLettersRedisTest::server_ = nullptr;

TEST_F(DeadLettersRedisTest, WhatTheWorkerDeadLettersIsReadAndReplayedToBeDelivered) {
  FlakySink sink;
  ConsumerLoop loop(cfg_, sink, clock_, registry_);
  add("events", {"good 1", "bad 1", "bad 2", "good 2"});
  stepUntil(loop, [&] { return loop.stats().delivered + loop.stats().deadLettered == 4; });
  ASSERT_EQ(loop.stats().deadLettered, 2);

  auto len = deadLetterLength(*keyed_, src_);
  ASSERT_TRUE(len.ok()) << len.error().message;
  EXPECT_EQ(len.value(), 2);
  auto dead = readDeadLetters(*keyed_, src_, -1);
  ASSERT_TRUE(dead.ok()) << dead.error().message;
  ASSERT_EQ(dead.value().size(), 2u);
  const DeadLetter& d = dead.value()[0];
  EXPECT_EQ(d.reason, "parse: invalid JSON at offset 0");
  EXPECT_EQ(d.stream, "events");
  EXPECT_EQ(d.group, "g");
  EXPECT_EQ(d.deliveries, 1);
  EXPECT_FALSE(d.originalId.empty());
  EXPECT_EQ(d.fields, (std::vector<std::pair<std::string, std::string>>{{"message", "bad 1"},
                                                                        {"host", "web-1"}}));

  // The sink is fixed; replay everything; the same loop delivers both.
  sink.fixed = true;
  auto plan = planReplay(dead.value(), {}, true, src_);
  ASSERT_TRUE(executeReplay(*keyed_, src_, plan).ok());
  for (const auto& it : plan) EXPECT_EQ(it.outcome, ReplayItem::Outcome::kReplayed) << it.note;
  EXPECT_EQ(deadLetterLength(*keyed_, src_).value(), 0);
  stepUntil(loop, [&] { return loop.stats().delivered == 4; });
  EXPECT_EQ(sink.delivered, (std::vector<std::string>{"good 1", "good 2", "bad 1", "bad 2"}));

  // Replaying the same plan again finds nothing: no third delivery.
  for (auto& it : plan) it.outcome = ReplayItem::Outcome::kReplay;
  ASSERT_TRUE(executeReplay(*keyed_, src_, plan).ok());
  for (const auto& it : plan) EXPECT_EQ(it.outcome, ReplayItem::Outcome::kMissing);
  auto xlen = client_->command({"XLEN", "events"});
  EXPECT_EQ(xlen.value().integer, 6);
}

TEST_F(DeadLettersRedisTest, RacingReplaysMoveEachEntryOnce) {
  std::vector<std::string> msgs;
  for (int i = 0; i < 300; ++i) msgs.push_back("m" + std::to_string(i));
  // Written as the worker writes dead letters.
  std::vector<redis::Command> cmds;
  for (const auto& m : msgs) {
    cmds.push_back({"XADD", "events:dead", "*", "message", m, "shoal.reason", "r",
                    "shoal.original_id", "1-1", "shoal.stream", "events", "shoal.group", "g",
                    "shoal.deliveries", "1"});
  }
  ASSERT_TRUE(client_->pipeline(cmds).ok());
  auto dead = readDeadLetters(*keyed_, src_, -1);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead.value().size(), 300u) << "read in pages of 500 or fewer";
  std::atomic<int> moved{0};
  auto replayer = [&] {
    redis::KeyedClient c(redisOptions(cfg_.redis), SystemClock::instance());
    auto plan = planReplay(dead.value(), {}, true, src_);
    ASSERT_TRUE(executeReplay(c, src_, plan).ok());
    for (const auto& it : plan) moved += it.outcome == ReplayItem::Outcome::kReplayed ? 1 : 0;
  };
  std::thread a(replayer), b(replayer);
  a.join();
  b.join();
  EXPECT_EQ(moved.load(), 300);
  auto r = client_->command({"XRANGE", "events", "-", "+"});
  auto entries = redis::decodeEntries(r.value());
  ASSERT_TRUE(entries.ok());
  std::set<std::string> seen;
  for (const auto& e : entries.value()) seen.insert(*e.field("message"));
  EXPECT_EQ(entries.value().size(), 300u);
  EXPECT_EQ(seen.size(), 300u);
}

TEST_F(DeadLettersRedisTest, LongStreamsAreReadInPagesAndTailIsTheNewest) {
  std::vector<std::string> msgs;
  for (int i = 0; i < 1234; ++i) msgs.push_back("m" + std::to_string(i));
  add("events:dead", msgs);
  auto all = readDeadLetters(*keyed_, src_, -1);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all.value().size(), 1234u);
  EXPECT_EQ(all.value().back().fields[0].second, "m1233");
  auto tail = readDeadLetters(*keyed_, src_, 3);
  ASSERT_TRUE(tail.ok());
  ASSERT_EQ(tail.value().size(), 3u);
  EXPECT_EQ(tail.value()[0].fields[0].second, "m1231");
  EXPECT_EQ(tail.value()[2].fields[0].second, "m1233");
  auto none = readDeadLetters(*keyed_, src_, 0);
  EXPECT_TRUE(none.ok() && none.value().empty());
}

TEST_F(DeadLettersRedisTest, ByIdSkipsUnknownAndMalformedIds) {
  add("events:dead", {"a", "b"});
  auto all = readDeadLetters(*keyed_, src_, -1);
  ASSERT_TRUE(all.ok());
  auto got = readDeadLettersById(*keyed_, src_, {all.value()[1].id, "1-1", "not-an-id"});
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_EQ(got.value().size(), 1u);
  EXPECT_EQ(got.value()[0].fields[0].second, "b");
  EXPECT_EQ(deadLetterLength(*keyed_, {"events", "g", "no-such-stream"}).value(), 0);
}

}  // namespace
}  // namespace shoal::plugin
