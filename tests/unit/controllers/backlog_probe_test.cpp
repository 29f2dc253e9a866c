// BacklogProbe: one round trip per stream per poll, rates, unknowns.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace shoal::probe
