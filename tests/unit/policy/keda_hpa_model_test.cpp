// Pins each rule of the KEDA Redis Streams scaler + HPA v2 baseline model
// (bench/sim/include/shoal/sim/keda_hpa_model.h) against hand-worked examples.
#include <gtest/gtest.h>

#include "shoal/common/clock.h"
#include "shoal/sim/keda_hpa_model.h"

namespace shoal::sim {
namespace {

KedaReading lagOf(std::optional<int64_t> lag) {
  return KedaReading{true, lag};
}

KedaHpaConfig careful() {
  KedaHpaConfig c;
  c.lagCount = 100;
  c.minReplicaCount = 0;
  c.maxReplicaCount = 50;
  return c;
}

TEST(KedaHpaModel, NilLagIsMinusOne) {
  EXPECT_EQ(kedaLagMetric(lagOf(std::nullopt)), -1);
  EXPECT_EQ(kedaLagMetric(lagOf(42)), 42);
}

// AverageValue: ratio = m / (target * current); within 0.1 keep current.
TEST(KedaHpaModel, AverageValueWithTolerance) {
  EXPECT_EQ(hpaReplicasForAverageValue(1000, 100, 10, 0.1), 10);  // ratio 1.0
  EXPECT_EQ(hpaReplicasForAverageValue(1099, 100, 10, 0.1), 10);  // ratio 1.099: inside
  EXPECT_EQ(hpaReplicasForAverageValue(1101, 100, 10, 0.1), 12);  // ceil(11.01)
  EXPECT_EQ(hpaReplicasForAverageValue(901, 100, 10, 0.1), 10);   // ratio 0.901: inside
  EXPECT_EQ(hpaReplicasForAverageValue(500, 100, 10, 0.1), 5);
  EXPECT_EQ(hpaReplicasForAverageValue(-1, 100, 3, 0.1), 0);      // nil lag
  EXPECT_EQ(hpaReplicasForAverageValue(10000, 5, 1, 0.1), 2000);  // lagCount 5
}

TEST(KedaHpaModel, KedaActivatesFromZeroOnlyAboveActivationLag) {
  ManualClock clock;
  KedaHpaConfig c = careful();
  c.activationLagCount = 10;
  KedaHpaState st;
  EXPECT_EQ(kedaPoll(c, st, lagOf(10), 0, clock.now()), 0);
  EXPECT_FALSE(st.active);
  EXPECT_EQ(kedaPoll(c, st, lagOf(11), 0, clock.now()), 1);
  EXPECT_TRUE(st.active);
  c.minReplicaCount = 3;
  EXPECT_EQ(kedaPoll(c, st, lagOf(11), 0, clock.now()), 3);
}

TEST(KedaHpaModel, KedaScalesToZeroAfterCooldownSinceLastActive) {
  ManualClock clock;
  KedaHpaConfig c = careful();
  KedaHpaState st;
  EXPECT_EQ(kedaPoll(c, st, lagOf(5), 2, clock.now()), 2);  // active at t=0
  clock.advance(seconds(270));
  EXPECT_EQ(kedaPoll(c, st, lagOf(0), 2, clock.now()), 2);  // inactive, 270 s
  clock.advance(seconds(30));
  EXPECT_EQ(kedaPoll(c, st, lagOf(0), 2, clock.now()), 0);  // 300 s
  c.minReplicaCount = 1;
  EXPECT_EQ(kedaPoll(c, st, lagOf(0), 2, clock.now()), 2);  // never with min > 0
}

// The known failure: a backlogged stream whose lag is nil reads -1, is
// "inactive", and is scaled to zero after the cooldown.
TEST(KedaHpaModel, NilLagScalesABackloggedStreamToZero) {
  ManualClock clock;
  KedaHpaConfig c = careful();
  KedaHpaModel m(c, clock.now());
  int32_t replicas = 5;
  for (int t = 0; t <= 330; ++t) {
    replicas = m.advance(clock.now(), lagOf(std::nullopt), replicas);
    clock.advance(seconds(1));
  }
  EXPECT_EQ(replicas, 0);
}

TEST(KedaHpaModel, FailedReadChangesNothing) {
  ManualClock clock;
  KedaHpaConfig c = careful();
  KedaHpaState st;
  clock.advance(seconds(1000));
  EXPECT_EQ(kedaPoll(c, st, KedaReading{false, std::nullopt}, 4, clock.now()), 4);
  EXPECT_EQ(hpaSync(c, st, KedaReading{false, std::nullopt}, 4, clock.now()), 4);
}

TEST(KedaHpaModel, HpaDoesNothingAtZeroAndClampsOutOfRange) {
  ManualClock clock;
  KedaHpaConfig c = careful();
  KedaHpaState st;
  EXPECT_EQ(hpaSync(c, st, lagOf(100000), 0, clock.now()), 0);
  EXPECT_EQ(hpaSync(c, st, lagOf(0), 60, clock.now()), 50);
  c.minReplicaCount = 2;
  EXPECT_EQ(hpaSync(c, st, lagOf(100000), 1, clock.now()), 2);
}

// behavior unset: at most max(2*current, 4) per sync.
TEST(KedaHpaModel, LegacyScaleUpIsADoublingLadder) {
  ManualClock clock;
  KedaHpaConfig c = careful();  // lagCount 100, max 50
  KedaHpaState st;
  int32_t r = 1;
  std::vector<int32_t> seen;
  for (int i = 0; i < 5; ++i) {
    r = hpaSync(c, st, lagOf(5000), r, clock.now());  // wants ceil(5000/100) = 50
    seen.push_back(r);
    clock.advance(seconds(15));
  }
  EXPECT_EQ(seen, (std::vector<int32_t>{4, 8, 16, 32, 50}));
}

// behavior unset: the largest recommendation of the last 300 s, this one included.
TEST(KedaHpaModel, LegacyScaleDownWaitsForTheWholeWindow) {
  ManualClock clock;
  KedaHpaConfig c = careful();
  KedaHpaState st;
  EXPECT_EQ(hpaSync(c, st, lagOf(400), 4, clock.now()), 4);  // recommends 4 at t=0
  int32_t r = 4;
  for (int t = 15; t <= 300; t += 15) {
    clock.advance(seconds(15));
    r = hpaSync(c, st, lagOf(0), r, clock.now());
    ASSERT_EQ(r, 4) << "t=" << t;  // t=300: the t=0 sample is exactly at the cutoff
  }
  clock.advance(seconds(15));
  EXPECT_EQ(hpaSync(c, st, lagOf(0), r, clock.now()), 1);  // straight to min, no rate limit
}

TEST(KedaHpaModel, LegacyNilLagDropsToMinAfterTheWindow) {
  ManualClock clock;
  KedaHpaConfig c = careful();
  c.minReplicaCount = 0;
  KedaHpaState st;
  int32_t r = hpaSync(c, st, lagOf(800), 8, clock.now());
  EXPECT_EQ(r, 8);
  clock.advance(seconds(301));
  EXPECT_EQ(hpaSync(c, st, lagOf(std::nullopt), r, clock.now()), 1);
}

// Explicit default behavior: up by max(4 pods, 100 %) per 15 s, counted from
// the count at the start of the period.
TEST(KedaHpaModel, DefaultBehaviorScaleUpRateFromPeriodStart) {
  ManualClock clock;
  KedaHpaConfig c = careful();
  c.behavior = HpaBehavior::kExplicitDefault;
  KedaHpaState st;
  int32_t r = hpaSync(c, st, lagOf(5000), 1, clock.now());
  EXPECT_EQ(r, 5);  // max(1 + 4, ceil(1 * 2))
  clock.advance(seconds(5));
  EXPECT_EQ(hpaSync(c, st, lagOf(5000), r, clock.now()), 5);  // period started at 1
  clock.advance(seconds(10));                                 // event at t=0 is out
  r = hpaSync(c, st, lagOf(5000), r, clock.now());
  EXPECT_EQ(r, 10);  // max(5 + 4, 10)
  clock.advance(seconds(15));
  r = hpaSync(c, st, lagOf(5000), r, clock.now());
  EXPECT_EQ(r, 20);
}

// Explicit default behavior: scale-down window 300 s (max), then 100 % per 15 s.
TEST(KedaHpaModel, DefaultBehaviorScaleDownAfterWindow) {
  ManualClock clock;
  KedaHpaConfig c = careful();
  c.behavior = HpaBehavior::kExplicitDefault;
  KedaHpaState st;
  int32_t r = hpaSync(c, st, lagOf(2000), 20, clock.now());
  EXPECT_EQ(r, 20);
  clock.advance(seconds(150));
  r = hpaSync(c, st, lagOf(300), r, clock.now());
  EXPECT_EQ(r, 20);
  clock.advance(seconds(151));  // t=301: the 20 is out, the 3 at t=150 is in
  r = hpaSync(c, st, lagOf(0), r, clock.now());
  EXPECT_EQ(r, 3);
  // Up again: window 0 s takes the fresh recommendation directly.
  clock.advance(seconds(15));
  EXPECT_EQ(hpaSync(c, st, lagOf(600), r, clock.now()), 6);
}

TEST(KedaHpaModel, ModelRunsPollAndSyncOnTheirOwnPeriods) {
  ManualClock clock;
  KedaHpaConfig c = careful();
  const MonoTime start = clock.now();
  KedaHpaModel m(c, start, seconds(30), seconds(15));
  EXPECT_EQ(m.nextEventAt(), start + seconds(15));
  int32_t r = 0;
  // Backlog appears at t=1; KEDA notices only at its poll at t=30.
  for (int t = 1; t < 30; ++t) {
    clock.advance(seconds(1));
    r = m.advance(clock.now(), lagOf(3000), r);
    ASSERT_EQ(r, 0) << "t=" << t;
  }
  clock.advance(seconds(1));
  r = m.advance(clock.now(), lagOf(3000), r);  // t=30: KEDA 0 -> 1, then HPA sync at 30: 1 -> 4
  EXPECT_EQ(r, 4);
}

}  // namespace
}  // namespace shoal::sim
