// Safe retention against a real redis-server 7.0: the trim script (one EVAL
// through the operator's probe) never removes an entry some consumer group
// has not read and acknowledged, checked per id with XRANGE after every trim,
// while groups at different speeds consume and entries keep arriving; groups
// created at 0, set to an arbitrary id (nil lag), deleted and recreated;
// keepAcknowledged count and age; maxLength with throttle and dropOldest;
// the script agrees with the pure model (applyTrim) on random states; and a
// trimmer running concurrently with producers and two consumer threads loses
// nothing the slow group still had to read.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "shoal/probe/backlog_probe.h"
#include "shoal/probe/retention.h"
#include "shoal/redis/client.h"
#include "shoal/testing/servers.h"

namespace shoal::probe {
namespace {

using testing::RedisServer;

redis::ConnectionOptions optionsFor(const RedisServer& s) {
  auto o = redis::parseUrl(s.url());
  EXPECT_TRUE(o.ok());
  return *o;
}

class RetentionRedisTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new RedisServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    server_->cli("FLUSHALL");
    target_.address = "127.0.0.1:" + std::to_string(server_->port());
  }

  TrimOutcome trim(const RetentionRule& rule = {}, int64_t nowMs = 0) {
    auto r = probe_.trim(target_, {stream_}, rule, nowMs);
    EXPECT_EQ(r.size(), 1u);
    EXPECT_TRUE(r[0].ok()) << r[0].error().message;
    return r[0].ok() ? r[0].value() : TrimOutcome{};
  }
  std::string add() {
    auto id = c_.add(stream_, {{"n", std::to_string(++added_)}});
    EXPECT_TRUE(id.ok()) << id.error().message;
    return id.ok() ? *id : "";
  }
  void addAt(const std::string& id) {
    auto r = c_.command({"XADD", stream_, id, "n", id});
    ASSERT_TRUE(r.ok() && !r->isError()) << id;
  }
  void group(const std::string& g, const std::string& start) {
    auto r = c_.createGroup(stream_, g, start, true);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  std::vector<std::string> read(const std::string& g, int64_t n) {
    auto r = c_.readGroup(stream_, g, "c", ">", n, -1);
    EXPECT_TRUE(r.ok()) << r.error().message;
    std::vector<std::string> ids;
    if (r.ok())
      for (const auto& e : *r) {
        EXPECT_FALSE(e.fields.empty()) << "delivered without its payload: " << e.id;
        ids.push_back(e.id);
      }
    return ids;
  }
  void ack(const std::string& g, const std::vector<std::string>& ids) {
    if (ids.empty()) return;
    auto r = c_.ack(stream_, g, ids);
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  /// Ids still in the stream, each looked up on its own (XRANGE id id), in
  /// one pipelined round trip.
  std::vector<std::string> missing(const std::set<std::string>& ids) {
    std::vector<redis::Command> cmds;
    for (const auto& id : ids) cmds.push_back({"XRANGE", stream_, id, id});
    std::vector<std::string> gone;
    if (cmds.empty()) return gone;
    auto r = c_.pipeline(cmds);
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return gone;
    auto it = ids.begin();
    for (const auto& reply : *r) {
      if (!reply.isArray() || reply.elements.size() != 1) gone.push_back(*it);
      ++it;
    }
    return gone;
  }
  int64_t length() {
    auto r = c_.command({"XLEN", stream_});
    return r.ok() ? r->asInt().value_or(-1) : -1;
  }
  std::vector<std::string> allIds() {
    auto r = c_.command({"XRANGE", stream_, "-", "+"});
    std::vector<std::string> out;
    if (r.ok() && r->isArray())
      for (const auto& e : r->elements) out.push_back(e.elements[0].str);
    return out;
  }
  /// The stream as the model sees it, read with plain commands.
  StreamModel snapshot() {
    StreamModel m;
    for (const auto& id : allIds()) m.ids.push_back(*StreamId::parse(id));
    auto groups = c_.groups(stream_);
    EXPECT_TRUE(groups.ok());
    for (const auto& g : *groups) {
      GroupPosition p{g.name, *StreamId::parse(g.lastDeliveredId), std::nullopt};
      if (g.pending > 0) {
        auto s = c_.pendingSummary(stream_, g.name);
        EXPECT_TRUE(s.ok());
        p.oldestPending = StreamId::parse(s->smallestId);
      }
      m.groups.push_back(p);
    }
    return m;
  }

  static RedisServer* server_;
  SystemClock& clock_ = SystemClock::instance();
  redis::Client c_{optionsFor(*server_), clock_};
  BacklogProbe probe_{makeRedisStreamInspector(clock_), clock_};
  RedisTarget target_;
  std::string stream_ = "events";
  int64_t added_ = 0;
};
RedisServer* RetentionRedisTest::server_ = nullptr;

TEST_F(RetentionRedisTest, TwoGroupsAtDifferentSpeedsLoseNothingTheSlowOneHasNotAcknowledged) {
  group("fast", "0");
  group("slow", "0");
  std::mt19937 rng(7);
  std::set<std::string> slowUnacked, fastUnacked;
  std::vector<std::string> slowPending;
  int64_t trimmedTotal = 0;
  for (int round = 0; round < 60; ++round) {
    for (int i = 0; i < 50; ++i) {
      const std::string id = add();
      slowUnacked.insert(id);
      fastUnacked.insert(id);
    }
    // fast reads and acknowledges everything; slow reads some, acknowledges
    // part of what it holds (oldest pending ones stay behind at times).
    auto f = read("fast", 1000);
    ack("fast", f);
    for (const auto& id : f) fastUnacked.erase(id);
    auto s = read("slow", 20 + static_cast<int64_t>(rng() % 20));
    slowPending.insert(slowPending.end(), s.begin(), s.end());
    std::vector<std::string> acked;
    for (auto it = slowPending.begin(); it != slowPending.end();) {
      if (rng() % 3 != 0) {
        acked.push_back(*it);
        it = slowPending.erase(it);
      } else {
        ++it;
      }
    }
    ack("slow", acked);
    for (const auto& id : acked) slowUnacked.erase(id);

    const TrimOutcome o = trim();
    trimmedTotal += o.trimmed;
    EXPECT_EQ(o.groups, 2);
    ASSERT_TRUE(o.safeId.has_value());
    EXPECT_EQ(o.droppedUnconsumed, 0);
    const auto gone = missing(slowUnacked);
    ASSERT_TRUE(gone.empty()) << "round " << round << ": the slow group lost " << gone.size() << ", first " << gone[0];
    ASSERT_TRUE(missing(fastUnacked).empty()) << "round " << round;
    // Everything left is at or above the safe id, nothing below it is left.
    const auto ids = allIds();
    if (!ids.empty()) {
      EXPECT_FALSE(*StreamId::parse(ids.front()) < *o.safeId) << "round " << round;
    }
    EXPECT_EQ(static_cast<int64_t>(ids.size()), o.length);
  }
  EXPECT_GT(trimmedTotal, 1000) << "trimming did happen while the slow group lagged";
  EXPECT_EQ(trimmedTotal + length(), added_);

  // The slow group catches up; from then on both keep up and the stream
  // stays bounded by what arrives between trims.
  ack("slow", slowPending);
  slowPending.clear();
  for (auto s = read("slow", 1000); !s.empty(); s = read("slow", 1000)) ack("slow", s);
  EXPECT_EQ(trim().length, 0);
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 50; ++i) add();
    ack("fast", read("fast", 1000));
    ack("slow", read("slow", 1000));
    const TrimOutcome o = trim();
    EXPECT_EQ(o.length, 0) << "round " << round;
    EXPECT_EQ(length(), 0);
  }
}

TEST_F(RetentionRedisTest, AGroupCreatedAtZeroMidRunStopsTrimmingOfEverythingItHasNotRead) {
  group("g", "0");
  for (int i = 0; i < 100; ++i) add();
  ack("g", read("g", 100));
  for (int i = 0; i < 20; ++i) add();
  ack("g", read("g", 10));
  EXPECT_EQ(trim().trimmed, 110);
  const auto ids = allIds();
  const std::set<std::string> left(ids.begin(), ids.end());
  ASSERT_EQ(left.size(), 10u);
  group("late", "0");
  ack("g", read("g", 100));  // g is done with everything now
  const TrimOutcome o = trim();
  EXPECT_EQ(o.trimmed, 0) << "late has read nothing";
  EXPECT_EQ(o.safeId, (StreamId{0, 1}));
  EXPECT_TRUE(missing(left).empty());
  // late reads 4 and acknowledges 3: the first 3 may go.
  auto r = read("late", 4);
  ack("late", {r[0], r[1], r[2]});
  const TrimOutcome after = trim();
  EXPECT_EQ(after.trimmed, 3);
  EXPECT_EQ(after.safeId, StreamId::parse(r[3]));
  EXPECT_EQ(length(), 7);
}

TEST_F(RetentionRedisTest, AGroupSetToAnArbitraryIdWithNilLagBoundsTheTrimByItsPosition) {
  for (int i = 1; i <= 10; ++i) addAt(std::to_string(i) + "-0");
  group("g", "0");
  ack("g", read("g", 10));
  group("odd", "$");
  // XGROUP SETID to an id in the middle: Redis cannot tell the lag (nil).
  ASSERT_TRUE(c_.command({"XGROUP", "SETID", stream_, "odd", "4-0"}).ok());
  auto groups = c_.groups(stream_);
  ASSERT_TRUE(groups.ok());
  bool sawNilLag = false;
  for (const auto& g : *groups) sawNilLag |= g.name == "odd" && !g.lag.has_value();
  EXPECT_TRUE(sawNilLag) << "the case this test is about";
  const TrimOutcome o = trim();
  EXPECT_EQ(o.safeId, (StreamId{4, 1}));
  EXPECT_EQ(o.trimmed, 4);
  EXPECT_EQ(allIds().front(), "5-0");
}

TEST_F(RetentionRedisTest, ADeletedAndRecreatedGroupIsTakenAsItIsNow) {
  group("fast", "0");
  group("slow", "0");
  for (int i = 0; i < 30; ++i) add();
  ack("fast", read("fast", 30));
  ack("slow", read("slow", 5));
  EXPECT_EQ(trim().trimmed, 5);
  // slow goes away: only fast bounds the trim.
  ASSERT_TRUE(c_.command({"XGROUP", "DESTROY", stream_, "slow"}).ok());
  EXPECT_EQ(trim().trimmed, 25);
  for (int i = 0; i < 10; ++i) add();
  const auto ids = allIds();
  const std::set<std::string> ten(ids.begin(), ids.end());
  ack("fast", read("fast", 10));
  // slow comes back at 0 before the trim: it has read nothing, nothing goes.
  group("slow", "0");
  EXPECT_EQ(trim().trimmed, 0);
  EXPECT_TRUE(missing(ten).empty());
  // Recreated at $ instead, it declares everything before it read.
  ASSERT_TRUE(c_.command({"XGROUP", "DESTROY", stream_, "slow"}).ok());
  group("slow", "$");
  EXPECT_EQ(trim().trimmed, 10);
  EXPECT_EQ(length(), 0);
  // No group at all: never trimmed by the rule.
  for (int i = 0; i < 5; ++i) add();
  ASSERT_TRUE(c_.command({"XGROUP", "DESTROY", stream_, "slow"}).ok());
  ASSERT_TRUE(c_.command({"XGROUP", "DESTROY", stream_, "fast"}).ok());
  const TrimOutcome none = trim();
  EXPECT_EQ(none.groups, 0);
  EXPECT_FALSE(none.safeId.has_value());
  EXPECT_EQ(none.trimmed, 0);
  EXPECT_EQ(length(), 5);
}

TEST_F(RetentionRedisTest, KeepAcknowledgedCountKeepsThatManyForReplay) {
  group("g", "0");
  for (int i = 0; i < 2500; ++i) add();  // more than one XREVRANGE page below the safe id
  auto r = read("g", 2400);
  ack("g", r);
  RetentionRule keep;
  keep.keepCount = 1500;
  const TrimOutcome o = trim(keep);
  EXPECT_EQ(o.trimmed, 900);
  EXPECT_EQ(allIds().front(), r[900]) << "the 1500 acknowledged entries just below the safe id are kept";
  EXPECT_EQ(trim(keep).trimmed, 0);
  keep.keepCount = 3000;
  EXPECT_EQ(trim(keep).trimmed, 0) << "fewer acknowledged than it keeps";
  EXPECT_EQ(length(), 1600);
}

TEST_F(RetentionRedisTest, KeepAcknowledgedAgeKeepsEntriesYoungerThanTheAge) {
  // Ids are millisecond timestamps: entries at 1 h, 30 min, 10 min, 1 min ago.
  const int64_t now = 1'800'000'000'000;
  for (int64_t agoMin : {60, 30, 10, 1}) addAt(std::to_string(now - agoMin * 60'000) + "-0");
  group("g", "0");
  ack("g", read("g", 10));
  RetentionRule keep;
  keep.keepAgeMs = 15 * 60'000;
  const TrimOutcome o = trim(keep, now);
  EXPECT_EQ(o.trimmed, 2);
  EXPECT_EQ(o.minId, (StreamId{static_cast<uint64_t>(now - 15 * 60'000), 0}));
  EXPECT_EQ(length(), 2);
  // Ten minutes later the 10-minute-old entry is 20 minutes old.
  EXPECT_EQ(trim(keep, now + 10 * 60'000).trimmed, 1);
  // The age never reaches past the safe id: unacknowledged ones stay.
  addAt(std::to_string(now + 1) + "-0");
  EXPECT_EQ(trim(keep, now + 100 * 60'000).trimmed, 1);
  EXPECT_EQ(allIds(), std::vector<std::string>{std::to_string(now + 1) + "-0"});
}

TEST_F(RetentionRedisTest, DropOldestTrimsUnconsumedToMaxLengthAndCountsEachDrop) {
  group("g", "0");
  for (int i = 0; i < 100; ++i) add();
  ack("g", read("g", 10));
  RetentionRule cap;
  cap.maxLength = 30;
  cap.dropOldest = true;
  const TrimOutcome o = trim(cap);
  EXPECT_EQ(o.trimmed, 10);
  EXPECT_EQ(o.droppedUnconsumed, 60);
  EXPECT_EQ(o.length, 30);
  EXPECT_TRUE(o.atCap);
  EXPECT_EQ(length(), 30);
  // The group reads on from what is left: entries 71..100.
  auto next = c_.readGroup(stream_, "g", "c", ">", 1, -1);
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->size(), 1u);
  EXPECT_EQ(*(*next)[0].field("n"), "71");
}

TEST_F(RetentionRedisTest, ThrottleNeverTrimsUnconsumedEntriesOverMaxLength) {
  group("g", "0");
  for (int i = 0; i < 100; ++i) add();
  auto r = read("g", 40);
  ack("g", std::vector<std::string>(r.begin(), r.begin() + 20));  // 21..40 pending
  RetentionRule cap;
  cap.maxLength = 30;
  cap.keepCount = 10;
  const std::set<std::string> unacked(r.begin() + 20, r.end());
  const TrimOutcome o = trim(cap);
  EXPECT_EQ(o.trimmed, 20) << "the 10 kept for replay go too when over the cap";
  EXPECT_EQ(o.droppedUnconsumed, 0);
  EXPECT_EQ(o.length, 80);
  EXPECT_TRUE(o.atCap);
  EXPECT_TRUE(missing(unacked).empty());
}

TEST_F(RetentionRedisTest, AMissingStreamIsNotAnErrorAndAWrongTypeIs) {
  const TrimOutcome o = trim();
  EXPECT_FALSE(o.streamExists);
  EXPECT_EQ(o.trimmed, 0);
  server_->cli("SET events notastream");
  auto r = probe_.trim(target_, {stream_}, {}, 0);
  ASSERT_EQ(r.size(), 1u);
  ASSERT_FALSE(r[0].ok());
  EXPECT_NE(r[0].error().message.find("WRONGTYPE"), std::string::npos) << r[0].error().message;
}

// The Pipeline's own group is checked in the same step as the trim.
TEST_F(RetentionRedisTest, NothingIsTrimmedWhileThePipelinesGroupIsMissing) {
  for (int i = 0; i < 10; ++i) add();
  group("other", "$");  // done with all ten
  RetentionRule rule;
  rule.requiredGroup = "mine";
  rule.maxLength = 5;
  rule.dropOldest = true;
  TrimOutcome o = trim(rule);
  EXPECT_TRUE(o.requiredGroupMissing);
  EXPECT_EQ(o.trimmed + o.droppedUnconsumed, 0);
  EXPECT_EQ(length(), 10);
  group("mine", "0");
  ack("mine", read("mine", 3));
  o = trim(rule);
  EXPECT_FALSE(o.requiredGroupMissing);
  EXPECT_EQ(o.trimmed, 3);
  EXPECT_EQ(o.droppedUnconsumed, 2);
}

// The script and the model agree, trim for trim, on random real states.
TEST_F(RetentionRedisTest, TheScriptDoesWhatTheModelDoes) {
  std::mt19937_64 rng(14);
  for (int round = 0; round < 60; ++round) {
    server_->cli("DEL events");
    const int n = 1 + static_cast<int>(rng() % 60);
    for (int i = 0; i < n; ++i) add();
    const int groups = static_cast<int>(rng() % 4);
    for (int g = 0; g < groups; ++g) {
      const std::string name = "g" + std::to_string(g);
      group(name, rng() % 4 == 0 ? "$" : "0");
      auto got = read(name, static_cast<int64_t>(rng() % (n + 1)));
      std::vector<std::string> acks;
      for (const auto& id : got)
        if (rng() % 4 != 0) acks.push_back(id);
      ack(name, acks);
    }
    RetentionRule rule;
    rule.keepCount = static_cast<int64_t>(rng() % 6);
    if (rng() % 2) rule.maxLength = static_cast<int64_t>(1 + rng() % 40);
    rule.dropOldest = rng() % 2;
    if (rng() % 4 == 0) rule.requiredGroup = "g" + std::to_string(rng() % 4);
    StreamModel model = snapshot();
    const int64_t nowMs = static_cast<int64_t>(model.ids.empty() ? 0 : model.ids.back().ms);
    if (rng() % 2) rule.keepAgeMs = static_cast<int64_t>(rng() % 5);
    const TrimOutcome expected = applyTrim(model, rule, nowMs);
    const TrimOutcome got = trim(rule, nowMs);
    ASSERT_EQ(got, expected) << "round " << round;
    std::vector<std::string> left;
    for (const auto& id : model.ids) left.push_back(id.str());
    ASSERT_EQ(allIds(), left) << "round " << round;
  }
}

// Producers, a fast and a slow consumer and the trimmer all at once, each on
// its own connection: afterwards the slow group still gets every entry, each
// with its payload (a trimmed pending entry would come back empty).
TEST_F(RetentionRedisTest, TrimmingConcurrentlyWithConsumersLosesNothing) {
  group("fast", "0");
  group("slow", "0");
  constexpr int kTotal = 20000;
  std::atomic<bool> producing{true};
  std::atomic<int64_t> trimmed{0};
  auto client = [&] { return std::make_unique<redis::Client>(optionsFor(*server_), clock_); };
  // Every thread gives up at this deadline, so a loss fails the test
  // instead of hanging it.
  const MonoTime deadline = clock_.now() + std::chrono::seconds(60);
  std::thread producer([&] {
    auto c = client();
    for (int i = 0; i < kTotal; i += 100) {
      std::vector<redis::Command> cmds;
      for (int k = 0; k < 100; ++k) cmds.push_back({"XADD", stream_, "*", "n", std::to_string(i + k)});
      EXPECT_TRUE(c->pipeline(cmds).ok());
    }
    producing = false;
  });
  auto consumer = [&](const std::string& g, int64_t count, int ackEvery) {
    auto c = client();
    std::mt19937 rng(static_cast<unsigned>(g.size()));
    std::vector<std::string> held;
    int64_t got = 0;
    while (got < kTotal && clock_.now() < deadline) {
      auto r = c->readGroup(stream_, g, "c", ">", count, 10);
      ASSERT_TRUE(r.ok()) << r.error().message;
      for (const auto& e : *r) {
        ASSERT_FALSE(e.fields.empty()) << g << " got " << e.id << " without its payload";
        held.push_back(e.id);
        ++got;
      }
      if (held.size() > 0 && static_cast<int>(rng() % ackEvery) == 0) {
        const size_t keep = std::min<size_t>(held.size(), rng() % 8);  // the newest few stay pending
        std::vector<std::string> acks(held.begin(), held.end() - static_cast<long>(keep));
        if (!acks.empty()) {
          ASSERT_TRUE(c->ack(stream_, g, acks).ok());
        }
        held.erase(held.begin(), held.end() - static_cast<long>(keep));
      }
    }
    // Its own pending entries, re-read: all still carry their payload.
    auto own = c->readGroup(stream_, g, "c", "0", 100000, -1);
    ASSERT_TRUE(own.ok());
    for (const auto& e : *own) ASSERT_FALSE(e.fields.empty()) << g << ": pending " << e.id << " was trimmed";
    ASSERT_EQ(got, kTotal) << g;
    if (!held.empty()) {
      ASSERT_TRUE(c->ack(stream_, g, held).ok());
    }
  };
  std::thread fast([&] { consumer("fast", 500, 1); });
  std::thread slow([&] { consumer("slow", 37, 3); });
  std::atomic<bool> consuming{true};
  std::thread trimmer([&] {
    BacklogProbe probe(makeRedisStreamInspector(clock_), clock_);
    while (consuming) {
      auto r = probe.trim(target_, {stream_}, {}, 0);
      ASSERT_TRUE(r[0].ok()) << r[0].error().message;
      trimmed += r[0]->trimmed;
    }
  });
  producer.join();
  fast.join();
  slow.join();
  consuming = false;
  trimmer.join();
  EXPECT_GT(trimmed.load(), kTotal / 2) << "the trimmer ran alongside";
  const TrimOutcome last = trim();
  EXPECT_EQ(trimmed.load() + last.trimmed, kTotal);
  EXPECT_EQ(length(), 0);
}

}  // namespace
}  // namespace shoal::probe
