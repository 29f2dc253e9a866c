// ReclaimSweep's cadence on the injected clock: gauges on every wake-up,
// claims once claimIntervalMs has passed since the last (on the 5 s grid when
// the interval is longer), none with claimIntervalMs = 0; the gauges follow
// the group; and the sweep thread acts when a ManualClock is advanced.
#include "src/sweep.h"

#include <gtest/gtest.h>

#include <cmath>

#include "shoal/testing/fake_consumer_group.h"
#include "shoal/testing/process.h"

namespace shoal::worker_detail {
namespace {

using shoal::testing::FakeConsumerGroup;

class ReclaimSweepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cfg_.redis.stream = "events";
    cfg_.redis.consumerGroup = "g";
    cfg_.redis.claimMinIdleMs = 1000;
    cfg_.redis.claimIntervalMs = 2000;
    cfg_.consumerName = "live";
  }
  void makeSweep() {
    ctx_ = std::make_unique<LoopContext>(cfg_, clock_, registry_);
    ctx_->ownPendingDone = true;  // as after the loop re-read its own pending list
    port_ = group_.open("live");
    sweep_ = std::make_unique<ReclaimSweep>(*ctx_, *port_);
  }
  // Milliseconds since the test began, for each claim.
  std::vector<int64_t> claimOffsets() {
    std::vector<int64_t> out;
    for (auto t : group_.claimTimes())
      out.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(t - t0_).count());
    return out;
  }
  double gauge(const std::string& name) {
    for (const auto& fam : registry_.Collect())
      if (fam.name == name) return fam.metric.at(0).gauge.value;
    return -1;
  }
  // Wakes the sweep as its thread would: at each due time, up to `until` ms.
  void tickUntil(int64_t untilMs) {
    MonoTime due = sweep_->tick();
    while (due - t0_ <= millis(untilMs)) {
      clock_.advance(due - clock_.now());
      due = sweep_->tick();
    }
  }

  PipelineConfig cfg_;
  ManualClock clock_;
  const MonoTime t0_ = clock_.now();
  FakeConsumerGroup group_{clock_};
  prometheus::Registry registry_;
  std::unique_ptr<LoopContext> ctx_;
  std::unique_ptr<ConsumerGroupPort> port_;
  std::unique_ptr<ReclaimSweep> sweep_;
};

TEST_F(ReclaimSweepTest, ClaimsEveryClaimIntervalAndRefreshesGaugesOnEveryWakeUp) {
  makeSweep();
  EXPECT_EQ(sweep_->tick() - t0_, millis(2000));  // gauges now, next wake-up after the interval
  EXPECT_EQ(group_.gaugeCalls(), 1);
  EXPECT_TRUE(group_.claimTimes().empty());  // the first claim waits one interval
  clock_.advance(millis(1999));
  sweep_->tick();
  EXPECT_TRUE(group_.claimTimes().empty());
  clock_.advance(millis(1));
  sweep_->tick();
  EXPECT_EQ(claimOffsets(), std::vector<int64_t>{2000});
}

TEST_F(ReclaimSweepTest, ClaimsFollowTheWakeUpsOverTime) {
  makeSweep();
  tickUntil(10000);
  EXPECT_EQ(claimOffsets(), (std::vector<int64_t>{2000, 4000, 6000, 8000, 10000}));
  EXPECT_EQ(group_.gaugeCalls(), 6);
}

TEST_F(ReclaimSweepTest, AnIntervalLongerThanFiveSecondsLandsOnTheFiveSecondGrid) {
  cfg_.redis.claimIntervalMs = 12000;
  makeSweep();
  tickUntil(30000);
  EXPECT_EQ(claimOffsets(), (std::vector<int64_t>{15000, 30000}));
  EXPECT_EQ(group_.gaugeCalls(), 7);  // 0, 5, 10, ..., 30 s
}

TEST_F(ReclaimSweepTest, NoClaimsWithAZeroIntervalButGaugesEveryFiveSeconds) {
  cfg_.redis.claimIntervalMs = 0;
  makeSweep();
  tickUntil(20000);
  EXPECT_TRUE(group_.claimTimes().empty());
  EXPECT_EQ(group_.gaugeCalls(), 5);  // 0, 5, 10, 15, 20 s
}

TEST_F(ReclaimSweepTest, GaugesFollowTheGroupAndLagIsNaNWhenUnknown) {
  group_.createGroup();
  group_.add({{"message", "a"}});
  group_.add({{"message", "b"}});
  group_.add({{"message", "c"}});
  group_.deliverNew("other", 1);
  makeSweep();
  EXPECT_TRUE(std::isnan(gauge("shoal_worker_group_lag")));  // before the first look
  sweep_->tick();
  EXPECT_EQ(gauge("shoal_worker_group_pending"), 1);
  EXPECT_EQ(gauge("shoal_worker_group_lag"), 2);
  group_.reportLag(std::nullopt);
  sweep_->tick();
  EXPECT_TRUE(std::isnan(gauge("shoal_worker_group_lag")));
}

TEST_F(ReclaimSweepTest, TheThreadClaimsWhenTheManualClockIsAdvanced) {
  makeSweep();
  sweep_->start();
  ASSERT_TRUE(shoal::testing::waitUntil([&] { return group_.gaugeCalls() >= 1; }));
  EXPECT_TRUE(group_.claimTimes().empty());
  clock_.advance(millis(2000));
  ASSERT_TRUE(shoal::testing::waitUntil([&] { return group_.claimTimes().size() == 1; }));
  clock_.advance(millis(2000));
  ASSERT_TRUE(shoal::testing::waitUntil([&] { return group_.claimTimes().size() == 2; }));
  ctx_->stop = true;
  sweep_->wake();
  sweep_->join();
  EXPECT_EQ(claimOffsets(), (std::vector<int64_t>{2000, 4000}));
}

}  // namespace
}  // namespace shoal::worker_detail
