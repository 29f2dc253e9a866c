// BacklogProbe: one round trip per stream per poll, rates, unknowns.
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "fakes.h"

namespace shoal::probe {
namespace {

RedisTarget target() {
  RedisTarget t;
  t.address = "redis:6379";
  return t;
}

TEST(BacklogProbe, SharesOneReadingPerStreamWithinThePollInterval) {
  ManualClock clock;
  auto inspector = std::make_shared<testfakes::FakeInspector>();
  inspector->setBacklog(10, 5);
  BacklogProbe probe(inspector, clock);
  auto a = probe.read(target(), "s", "g", std::chrono::seconds(2));
  auto b = probe.read(target(), "s", "g", std::chrono::seconds(2));
  EXPECT_EQ(inspector->inspects, 1);
  EXPECT_EQ(a.backlog(), 15);
  EXPECT_EQ(b.backlog(), 15);
  probe.read(target(), "other", "g", std::chrono::seconds(2));
  EXPECT_EQ(inspector->inspects, 2);
  clock.advance(std::chrono::seconds(2));
  probe.read(target(), "s", "g", std::chrono::seconds(2));
  EXPECT_EQ(inspector->inspects, 3);
}

TEST(BacklogProbe, RatesFromCounterGrowth) {
  ManualClock clock;
  auto inspector = std::make_shared<testfakes::FakeInspector>();
  inspector->snapshot = {0, 0, 100, 1000, 0, 1};
  BacklogProbe probe(inspector, clock);
  auto first = probe.read(target(), "s", "g", Duration::zero());
  EXPECT_FALSE(first.arrivalRate.has_value());
  clock.advance(std::chrono::seconds(2));
  inspector->snapshot.entriesAdded = 1400;
  inspector->snapshot.entriesRead = 300;
  auto second = probe.read(target(), "s", "g", Duration::zero());
  ASSERT_TRUE(second.arrivalRate.has_value());
  EXPECT_DOUBLE_EQ(*second.arrivalRate, 200.0);
  EXPECT_DOUBLE_EQ(*second.consumptionRate, 100.0);
}

TEST(BacklogProbe, NilLagIsUnknownNotZero) {
  ManualClock clock;
  auto inspector = std::make_shared<testfakes::FakeInspector>();
  inspector->snapshot.lag.reset();
  inspector->snapshot.pending = 4;
  BacklogProbe probe(inspector, clock);
  auto r = probe.read(target(), "s", "g", Duration::zero());
  EXPECT_TRUE(r.ok);
  EXPECT_FALSE(r.backlog().has_value());
}

TEST(BacklogProbe, FailureCarriesReasonAndNoNumbers) {
  ManualClock clock;
  auto inspector = std::make_shared<testfakes::FakeInspector>();
  inspector->reachable = false;
  BacklogProbe probe(inspector, clock);
  auto r = probe.read(target(), "s", "g", Duration::zero());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.failure, ReadFailure::kUnreachable);
  EXPECT_STREQ(failureReason(r.failure), "RedisUnreachable");
  EXPECT_FALSE(r.backlog().has_value());
}

TEST(BacklogProbe, TellsTheObserverOfEachFailedRoundTripNotOfCachedOnes) {
  struct Failures : ProbeObserver {
    std::vector<ReadFailure> seen;
    void readFailed(ReadFailure f) override { seen.push_back(f); }
  } failures;
  ManualClock clock;
  auto inspector = std::make_shared<testfakes::FakeInspector>();
  BacklogProbe probe(inspector, clock, &failures);
  probe.read(target(), "s", "g", Duration::zero());
  EXPECT_TRUE(failures.seen.empty()) << "a good reading is no failure";
  inspector->reachable = false;
  probe.read(target(), "s", "g", Duration::zero());
  probe.read(target(), "s", "g", std::chrono::seconds(5));  // served from the cache
  inspector->reachable = true;
  inspector->groupExists = false;
  clock.advance(std::chrono::seconds(1));
  probe.read(target(), "s", "g", Duration::zero());
  EXPECT_EQ(failures.seen,
            (std::vector<ReadFailure>{ReadFailure::kUnreachable, ReadFailure::kGroupNotFound}));
}

TEST(RedisTarget, EndpointExcludesCredentials) {
  RedisTarget t = target();
  t.password = "secret";
  EXPECT_EQ(t.endpoint().find("secret"), std::string::npos);
}

// One snapshot per shard stream; a stream missing from the map is not there.
class ShardInspector : public StreamInspector {
 public:
  std::map<std::string, StreamSnapshot> streams;
  std::vector<std::string> asked;
  Result<StreamSnapshot> inspect(const RedisTarget&, const std::string& stream, const std::string&,
                                 ReadFailure* f) override {
    asked.push_back(stream);
    auto it = streams.find(stream);
    if (it == streams.end()) {
      *f = ReadFailure::kStreamNotFound;
      return makeError(Errc::kNotFound, "no such key");
    }
    return it->second;
  }
  Result<void> ensureGroup(const RedisTarget&, const std::string&, const std::string&, const std::string&) override {
    return {};
  }
  Result<void> destroyGroup(const RedisTarget&, const std::string&, const std::string&) override { return {}; }
};

StreamSnapshot shard(std::optional<int64_t> lag, int64_t pending, int64_t added) {
  StreamSnapshot s;
  s.lag = lag;
  s.pending = pending;
  s.entriesAdded = added;
  s.entriesRead = added - lag.value_or(0);
  s.length = added;
  s.consumers = 2;
  return s;
}

TEST(BacklogProbe, ShardsAreSummedAndTheHottestShardIsNamed) {
  ManualClock clock;
  auto inspector = std::make_shared<ShardInspector>();
  inspector->streams["s:{0}"] = shard(10, 1, 100);
  inspector->streams["s:{1}"] = shard(900, 9, 1000);
  inspector->streams["s:{2}"] = shard(0, 0, 50);
  BacklogProbe probe(inspector, clock);
  auto r = probe.read(target(), std::vector<std::string>{"s:{0}", "s:{1}", "s:{2}"}, "g", std::chrono::seconds(2));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.backlog(), 920);
  EXPECT_EQ(r.snapshot.lag, 910);
  EXPECT_EQ(r.snapshot.pending, 10);
  EXPECT_EQ(r.snapshot.entriesAdded, 1150);
  EXPECT_EQ(r.snapshot.length, 1150);
  EXPECT_EQ(r.snapshot.consumers, 2);
  EXPECT_EQ(r.snapshot.shards, 3);
  EXPECT_EQ(r.snapshot.hottestShard, "s:{1}");
  EXPECT_EQ(r.snapshot.hottestShardBacklog, 909);
  EXPECT_EQ(inspector->asked.size(), 3u);
  EXPECT_EQ(probe.roundTrips(), 3);
}

TEST(BacklogProbe, ANilLagOnOneShardMakesTheSumUnknown) {
  auto sum = sumShards({{"a", shard(5, 0, 5)}, {"b", shard(std::nullopt, 2, 7)}});
  EXPECT_FALSE(sum.lag.has_value());
  EXPECT_EQ(sum.pending, 2);
  EXPECT_EQ(sum.hottestShard, "a");  // the only shard whose backlog is known
}

TEST(BacklogProbe, AMissingShardFailsTheReadingAndIsNamed) {
  ManualClock clock;
  auto inspector = std::make_shared<ShardInspector>();
  inspector->streams["s:{0}"] = shard(10, 1, 100);
  BacklogProbe probe(inspector, clock);
  auto r = probe.read(target(), std::vector<std::string>{"s:{0}", "s:{1}"}, "g", std::chrono::seconds(2));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.failure, ReadFailure::kStreamNotFound);
  EXPECT_NE(r.error.find("shard s:{1} of 2"), std::string::npos) << r.error;
  EXPECT_FALSE(r.backlog().has_value());
}

}  // namespace
}  // namespace shoal::probe
