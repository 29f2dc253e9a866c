// Pins each rule of Shoal's scaling policy (operator/policy) against
// hand-worked examples, on explicit times from a ManualClock.
#include <gtest/gtest.h>

#include <cmath>

#include "shoal/common/clock.h"
#include "shoal/policy/scaling_policy.h"

namespace shoal::policy {
namespace {

// A spec with round numbers so the examples can be worked by hand:
// μ prior 100/s, headroom 1.2, drain 60 s, start-up 10 s.
ScalingSpec handSpec() {
  ScalingSpec s;
  s.minReplicas = 1;
  s.maxReplicas = 20;
  s.scaling.perReplicaThroughput = 100;
  s.scaling.headroom = 1.2;
  s.scaling.drainSeconds = 60;
  s.scaling.podStartupSeconds = 10;
  s.scaling.deadBand = 0.1;
  s.scaling.scaleDown.stabilizationSeconds = 30;
  s.scaling.scaleDown.periodSeconds = 10;
  s.scaling.scaleDown.maxPodsPerStep = 4;
  s.scaling.scaleDown.percent = 50;
  return s;
}

Observation obsOf(std::optional<int64_t> lag, int32_t current, uint64_t added, uint64_t read,
                  std::optional<int64_t> pending = 0, int32_t ready = -1) {
  Observation o;
  o.lag = lag;
  o.pending = pending;
  o.entriesAdded = added;
  o.entriesRead = read;
  o.currentReplicas = current;
  o.readyReplicas = ready < 0 ? current : ready;
  return o;
}

class ScalingPolicyTest : public ::testing::Test {
 protected:
  Decision tick(const Observation& o, double advanceSeconds = 0) {
    clock.advance(seconds(advanceSeconds));
    return decide(spec, state, o, clock.now());
  }
  ManualClock clock;
  ScalingSpec spec = handSpec();
  ScalingState state;
};

TEST_F(ScalingPolicyTest, DefaultsAreValidAndNamedAsInTheCrd) {
  EXPECT_TRUE(validateScalingSpec(ScalingSpec{}).empty());
  ScalingSpec d;
  EXPECT_EQ(d.scaling.policy, ScalingPolicyKind::kDrainTime);
  EXPECT_EQ(d.scaling.pollIntervalSeconds, 2);
  EXPECT_EQ(policyKindName(ScalingPolicyKind::kTargetBacklogPerReplica), "targetBacklogPerReplica");
  EXPECT_EQ(parsePolicyKind("drainTime"), ScalingPolicyKind::kDrainTime);
  EXPECT_FALSE(parsePolicyKind("DrainTime").has_value());
  EXPECT_EQ(reasonName(DecisionReason::kScaledUpForBacklog), "ScaledUpForBacklog");
  EXPECT_EQ(reasonName(DecisionReason::kHoldingBacklogUnknown), "HoldingBacklogUnknown");
}

TEST_F(ScalingPolicyTest, ValidationNamesEachBadField) {
  ScalingSpec s;
  s.maxReplicas = 0;
  s.scaling.headroom = 0.5;
  s.scaling.deadBand = 2;
  s.scaling.perReplicaThroughput = std::nan("");
  auto problems = validateScalingSpec(s);
  ASSERT_EQ(problems.size(), 5u);
  EXPECT_EQ(problems[0], "maxReplicas must be >= 1");
  EXPECT_EQ(problems[1], "maxReplicas must be >= minReplicas");
}

TEST_F(ScalingPolicyTest, InvalidSpecNeverCrashesAndStaysInRange) {
  spec.scaling.perReplicaThroughput = -5;
  spec.scaling.headroom = std::nan("");
  spec.scaling.drainSeconds = 0;
  spec.maxReplicas = 3;
  auto d = tick(obsOf(1'000'000, 1, 0, 0));
  EXPECT_EQ(d.desiredReplicas, 3);
  EXPECT_TRUE(d.scalingLimited);
}

// B = 6000, λ unknown (0), μ = 100, 1 ready: W = 1.2*6000/100 = 72 pod-s;
// the ready pod gives 60, the rest over T - S = 50 s: 1 + 12/50 = 1.24 -> 2.
TEST_F(ScalingPolicyTest, DrainTimeScalesUpAtOnceToTheComputedSize) {
  auto d = tick(obsOf(6000, 1, 0, 0));
  EXPECT_EQ(d.desiredReplicas, 2);
  EXPECT_EQ(d.reason, DecisionReason::kScaledUpForBacklog);
  EXPECT_NEAR(d.recommendedReplicas, 1.24, 1e-9);
  EXPECT_TRUE(d.scalingActive);
  EXPECT_FALSE(d.fallback);
  EXPECT_FALSE(d.throughputMeasured);
  EXPECT_EQ(d.perReplicaThroughput, 100);
  // No doubling ladder: from 1 straight to the computed size.
  ScalingState fresh;
  auto big = decide(spec, fresh, obsOf(60000, 1, 0, 0), clock.now());
  // W = 720 pod-s: 1 + (720 - 60)/50 = 14.2 -> 15
  EXPECT_EQ(big.desiredReplicas, 15);
}

// Pod start-up matters: with S = 30 s the new pods have only 30 s of the 60.
TEST_F(ScalingPolicyTest, DrainTimeAccountsForPodStartup) {
  spec.scaling.podStartupSeconds = 0;
  ScalingState s0;
  EXPECT_EQ(decide(spec, s0, obsOf(6000, 1, 0, 0, 0, 0), clock.now()).desiredReplicas, 2);  // 1.2
  spec.scaling.podStartupSeconds = 30;
  ScalingState s30;
  // ready 0: W = 72 pod-s over max(30, 30) s -> 2.4 -> 3
  EXPECT_EQ(decide(spec, s30, obsOf(6000, 1, 0, 0, 0, 0), clock.now()).desiredReplicas, 3);
}

// λ = 200/s measured over 2 s, B = 0, 2 ready: W = 1.2*200*60/100 = 144
// pod-s; 2 ready give 120, the rest over 50 s: 2 + 24/50 = 2.48 -> 3.
TEST_F(ScalingPolicyTest, DrainTimeKeepsUpWithArrivalsWithHeadroom) {
  tick(obsOf(0, 2, 1000, 1000));
  auto d = tick(obsOf(0, 2, 1400, 1400), 2);
  ASSERT_TRUE(d.arrivalRate.has_value());
  EXPECT_NEAR(*d.arrivalRate, 200, 1e-9);
  EXPECT_NEAR(*d.consumptionRate, 200, 1e-9);
  EXPECT_EQ(d.desiredReplicas, 3);
  EXPECT_EQ(d.reason, DecisionReason::kScaledUpForBacklog);
}

// Workers busy (backlog at both ends, same ready count): 2 ready read 800 in
// 2 s -> 200/s each replaces the prior of 100.
TEST_F(ScalingPolicyTest, LearnsPerReplicaThroughputWhileBusy) {
  tick(obsOf(5000, 2, 10000, 5000));
  auto d = tick(obsOf(4600, 2, 10400, 5800), 2);
  EXPECT_TRUE(d.throughputMeasured);
  EXPECT_NEAR(d.perReplicaThroughput, 200, 1e-9);
  // Smoothed: a second sample of 100/s moves it part of the way only.
  auto e = tick(obsOf(4600, 2, 10800, 6200), 2);
  EXPECT_LT(e.perReplicaThroughput, 200);
  EXPECT_GT(e.perReplicaThroughput, 150);
}

TEST_F(ScalingPolicyTest, DoesNotLearnThroughputWhenIdleOrResizing) {
  tick(obsOf(0, 2, 0, 0));
  auto idle = tick(obsOf(0, 2, 100, 100), 2);  // starved workers say nothing about μ
  EXPECT_FALSE(idle.throughputMeasured);
  ScalingState s;
  decide(spec, s, obsOf(5000, 2, 0, 0), clock.now());
  clock.advance(seconds(2));
  auto resized = decide(spec, s, obsOf(5000, 4, 400, 400, 0, 4), clock.now());
  EXPECT_FALSE(resized.throughputMeasured);
}

TEST_F(ScalingPolicyTest, TargetBacklogPerReplicaIsCeilOfBacklogOverTarget) {
  spec.scaling.policy = ScalingPolicyKind::kTargetBacklogPerReplica;
  spec.scaling.targetBacklogPerReplica = 1000;
  auto d = tick(obsOf(4000, 1, 0, 0, 500));  // lag + pending = 4500
  EXPECT_EQ(d.backlog, 4500);
  EXPECT_EQ(d.desiredReplicas, 5);
  EXPECT_NEAR(d.recommendedReplicas, 4.5, 1e-9);
}

TEST_F(ScalingPolicyTest, ClampsToMaxAndSaysSo) {
  auto d = tick(obsOf(1'000'000, 1, 0, 0));
  EXPECT_EQ(d.desiredReplicas, 20);
  EXPECT_EQ(d.reason, DecisionReason::kScaledUpForBacklog);
  EXPECT_TRUE(d.scalingLimited);
  auto again = tick(obsOf(1'000'000, 20, 0, 0), 2);
  EXPECT_EQ(again.desiredReplicas, 20);
  EXPECT_EQ(again.reason, DecisionReason::kLimitedByMaxReplicas);
  EXPECT_TRUE(again.scalingLimited);
}

TEST_F(ScalingPolicyTest, HoldsAtMinAndSaysSo) {
  spec.minReplicas = 3;
  tick(obsOf(0, 3, 0, 0));
  auto d = tick(obsOf(0, 3, 0, 0), 2);
  EXPECT_EQ(d.desiredReplicas, 3);
  EXPECT_EQ(d.reason, DecisionReason::kLimitedByMinReplicas);
  EXPECT_TRUE(d.scalingLimited);
  // Below min (a fresh Deployment): straight up to min.
  ScalingState s;
  EXPECT_EQ(decide(spec, s, obsOf(0, 0, 0, 0), clock.now()).desiredReplicas, 3);
}

// Scale-down: window max, then max(4 pods, 50 %) per 10 s. A trickle of
// 10 entries/s keeps the stream from being idle.
TEST_F(ScalingPolicyTest, ScaleDownIsStabilizedThenRateLimited) {
  // t=0: B = 48000, λ = 0 -> W = 576 <= 10*60 -> 9.6 -> 10 = current.
  auto d0 = tick(obsOf(48000, 10, 100, 0));
  EXPECT_EQ(d0.desiredReplicas, 10);
  EXPECT_EQ(d0.reason, DecisionReason::kAtDesiredReplicas);
  // t=2: backlog gone, 10/s: wants 1, but 10 was wanted within 30 s.
  auto d1 = tick(obsOf(0, 10, 120, 48120), 2);
  EXPECT_EQ(d1.desiredReplicas, 10);
  EXPECT_EQ(d1.reason, DecisionReason::kStabilizingScaleDown);
  // t=30: the t=0 recommendation is exactly 30 s old: still inside.
  auto d2 = tick(obsOf(0, 10, 400, 48400), 28);
  EXPECT_EQ(d2.reason, DecisionReason::kStabilizingScaleDown);
  // t=31: outside; step = max(4, ceil(50 % of 10)) = 5 -> 5.
  auto d3 = tick(obsOf(0, 10, 410, 48410), 1);
  EXPECT_EQ(d3.desiredReplicas, 5);
  EXPECT_EQ(d3.reason, DecisionReason::kScaledDown);
  // t=33: one step per 10 s.
  auto d4 = tick(obsOf(0, 5, 430, 48430), 2);
  EXPECT_EQ(d4.desiredReplicas, 5);
  EXPECT_EQ(d4.reason, DecisionReason::kScaleDownRateLimited);
  // t=41: step = max(4, 3) = 4 -> 1.
  auto d5 = tick(obsOf(0, 5, 510, 48510), 8);
  EXPECT_EQ(d5.desiredReplicas, 1);
  EXPECT_EQ(d5.reason, DecisionReason::kScaledDown);
}

// With no backlog and no arrivals there is nothing to damp against.
TEST_F(ScalingPolicyTest, IdleStreamGoesToTheFloorAtOnce) {
  tick(obsOf(48000, 10, 100, 0));
  auto d = tick(obsOf(0, 10, 100, 48000), 2);
  EXPECT_EQ(d.desiredReplicas, 1);
  EXPECT_EQ(d.reason, DecisionReason::kScaledDown);
}

// whenIdle: damped treats an idle stream as any other scale-down: the
// window (30 s) and the rate limit (one step of max(4, 50 %) per 10 s).
TEST_F(ScalingPolicyTest, IdleStreamStepsDownWhenDamped) {
  spec.scaling.scaleDown.whenIdle = IdleScaleDown::kDamped;
  tick(obsOf(48000, 10, 100, 0));
  auto d = tick(obsOf(0, 10, 100, 48000), 2);
  EXPECT_EQ(d.desiredReplicas, 10);
  EXPECT_EQ(d.reason, DecisionReason::kStabilizingScaleDown);
  d = tick(obsOf(0, 10, 100, 48000), 29);  // t = 31: the t=0 recommendation left the window
  EXPECT_EQ(d.desiredReplicas, 5);
  EXPECT_EQ(d.reason, DecisionReason::kScaledDown);
  d = tick(obsOf(0, 5, 100, 48000), 2);
  EXPECT_EQ(d.reason, DecisionReason::kScaleDownRateLimited);
  EXPECT_EQ(idleScaleDownName(IdleScaleDown::kDamped), "damped");
  EXPECT_EQ(parseIdleScaleDown("immediate"), IdleScaleDown::kImmediate);
  EXPECT_FALSE(parseIdleScaleDown("Immediate"));
}

// A controller that took the pool over holds every kind of scale-down until
// scaleDownHeldUntil, then scales down as usual.
TEST_F(ScalingPolicyTest, NoScaleDownOfAnyKindWhileHeldAfterATakeover) {
  spec.minReplicas = 0;
  spec.scaling.idleSeconds = 0;
  state.scaleDownHeldUntil = clock.now() + seconds(30);
  tick(obsOf(0, 6, 100, 100));
  for (int t = 2; t < 30; t += 2) {
    auto d = tick(obsOf(0, 6, 100, 100), 2);  // idle, idleSeconds 0: would go to zero
    ASSERT_EQ(d.desiredReplicas, 6) << "t=" << t;
    EXPECT_EQ(d.reason, DecisionReason::kStabilizingScaleDown);
    EXPECT_NE(d.message.find("taken over"), std::string::npos) << d.message;
  }
  auto up = tick(obsOf(100000, 6, 100100, 100), 0);
  EXPECT_GT(up.desiredReplicas, 6) << "scale-up is never held";
  auto after = tick(obsOf(0, 6, 100100, 100100), 2);  // t = 30
  EXPECT_LT(after.desiredReplicas, 6) << after.message;
}

// The deadline runs from when the backlog formed: 40 s into a drain with one
// ready pod, 6000 left, λ 0: T = 60 - 40 = 20 s; W = 1.2*6000/100 = 72
// pod-s; 1 ready gives 20, the rest over max(20 - 10, 10) s: 1 + 52/10 = 6.2.
TEST_F(ScalingPolicyTest, DrainDeadlineRunsFromWhenTheBacklogFormed) {
  tick(obsOf(10000, 1, 10000, 0));
  for (int i = 0; i < 19; ++i) tick(obsOf(10000 - 200 * (i + 1), 1, 10000, 200 * (i + 1)), 2);
  auto d = tick(obsOf(6000, 1, 10000, 4000), 2);  // t = 40
  EXPECT_NEAR(d.recommendedReplicas, 6.2, 1e-6);
  EXPECT_EQ(d.desiredReplicas, 7);
}

TEST_F(ScalingPolicyTest, ScaleDownWaitsForAMeasuredArrivalRate) {
  auto d = tick(obsOf(0, 5, 100, 100));
  EXPECT_EQ(d.desiredReplicas, 5);
  EXPECT_EQ(d.reason, DecisionReason::kStabilizingScaleDown);
}

// Dead band 0.1 around the current count. Up: 2 ready, λ = 175/s, B = 0:
// W = 1.2*175*60/100 = 126 pod-s -> 2 + 6/50 = 2.12, within 2.2: hold.
// Down: 20 ready, λ = 1550/s: W/T = 18.6 >= 18: hold; λ = 1400/s: 16.8, plus
// half the dead band as spare: 16.8 * 1.05 = 17.64 -> 18.
TEST_F(ScalingPolicyTest, DeadBandHoldsSmallChangesBothWays) {
  tick(obsOf(0, 2, 0, 0));
  auto hold = tick(obsOf(0, 2, 350, 350), 2);
  EXPECT_NEAR(hold.recommendedReplicas, 2.12, 1e-9);
  EXPECT_EQ(hold.desiredReplicas, 2);
  EXPECT_EQ(hold.reason, DecisionReason::kWithinDeadBand);

  spec.scaling.scaleDown.stabilizationSeconds = 0;
  ScalingState s1;
  decide(spec, s1, obsOf(0, 20, 0, 0), clock.now());
  clock.advance(seconds(2));
  auto holdDown = decide(spec, s1, obsOf(0, 20, 3100, 3100), clock.now());
  EXPECT_EQ(holdDown.desiredReplicas, 20);
  EXPECT_EQ(holdDown.reason, DecisionReason::kWithinDeadBand);

  ScalingState s2;
  decide(spec, s2, obsOf(0, 20, 0, 0), clock.now());
  clock.advance(seconds(2));
  auto down = decide(spec, s2, obsOf(0, 20, 2800, 2800), clock.now());
  EXPECT_EQ(down.desiredReplicas, 18);  // step max(4, 50 % of 20) = 10 allows it
  EXPECT_EQ(down.reason, DecisionReason::kScaledDown);
}

// A need on a whole number does not flap and does not settle late: at 7
// replicas, λ = 500/s wants exactly 6.00 (1.2*500/100), and 6 would leave no
// spare (6.00 * 1.05 = 6.3 -> 7): hold 7 whichever way the noise goes. At
// λ = 450/s (5.40 * 1.05 = 5.67 -> 6) it scales in to 6.
TEST_F(ScalingPolicyTest, ScaleInKeepsHalfTheDeadBandAsSpare) {
  spec.scaling.scaleDown.stabilizationSeconds = 0;
  ScalingState st;
  uint64_t added = 0;
  decide(spec, st, obsOf(0, 7, added, added), clock.now());
  for (double rate : {500.0, 495.0, 505.0, 500.0}) {
    clock.advance(seconds(2));
    added += static_cast<uint64_t>(rate * 2);
    auto hold = decide(spec, st, obsOf(0, 7, added, added), clock.now());
    EXPECT_EQ(hold.desiredReplicas, 7) << "at " << rate << "/s";
    EXPECT_EQ(hold.reason, DecisionReason::kWithinDeadBand);
  }
  ScalingState s2;
  uint64_t added2 = 0;
  decide(spec, s2, obsOf(0, 7, added2, added2), clock.now());
  clock.advance(seconds(2));
  added2 += 900;
  auto down = decide(spec, s2, obsOf(0, 7, added2, added2), clock.now());
  EXPECT_NEAR(down.recommendedReplicas, 5.4, 1e-9);
  EXPECT_EQ(down.desiredReplicas, 6);
  EXPECT_EQ(down.reason, DecisionReason::kScaledDown);
}

TEST_F(ScalingPolicyTest, ScaleUpStabilizationTakesTheWindowMinimum) {
  spec.scaling.scaleUp.stabilizationSeconds = 10;
  auto d0 = tick(obsOf(0, 2, 0, 0));
  EXPECT_EQ(d0.desiredReplicas, 2);
  auto d1 = tick(obsOf(48000, 2, 0, 0), 2);  // wants 10, but 2 was enough 2 s ago
  EXPECT_EQ(d1.desiredReplicas, 2);
  auto d2 = tick(obsOf(48000, 2, 0, 0), 10);  // the low one left the window
  EXPECT_GE(d2.desiredReplicas, 10);
}

TEST_F(ScalingPolicyTest, ScalesToZeroOnlyAfterIdleSecondsOfNoBacklogAndNoArrivals) {
  spec.minReplicas = 0;
  spec.scaling.idleSeconds = 30;
  auto first = tick(obsOf(0, 1, 500, 500));
  EXPECT_EQ(first.desiredReplicas, 1);  // arrivals not yet measured
  for (int t = 2; t < 32; t += 2) {
    auto d = tick(obsOf(0, 1, 500, 500), 2);  // idle since t=2
    ASSERT_EQ(d.desiredReplicas, 1) << "t=" << t;
    EXPECT_EQ(d.reason, DecisionReason::kWaitingForIdle);
  }
  auto zero = tick(obsOf(0, 1, 500, 500), 2);  // t=32: idle for 30 s
  EXPECT_EQ(zero.desiredReplicas, 0);
  EXPECT_EQ(zero.reason, DecisionReason::kScaledToZeroIdle);
}

TEST_F(ScalingPolicyTest, ArrivalsKeepAPoolAliveEvenWithNoBacklog) {
  spec.minReplicas = 0;
  uint64_t added = 0;
  for (int t = 0; t < 200; t += 2) {
    added += 2;  // 1 entry/s, consumed at once
    auto d = tick(obsOf(0, 1, added, added), t == 0 ? 0 : 2);
    ASSERT_EQ(d.desiredReplicas, 1) << "t=" << t;
  }
}

TEST_F(ScalingPolicyTest, IdleRestartsWhenWorkAppears) {
  spec.minReplicas = 0;
  tick(obsOf(0, 1, 0, 0));
  for (int i = 0; i < 10; ++i) tick(obsOf(0, 1, 0, 0), 2);  // idle 18 s
  tick(obsOf(0, 1, 5, 5), 2);                               // an arrival
  for (int i = 0; i < 14; ++i) {
    auto d = tick(obsOf(0, 1, 5, 5), 2);  // idle again, < 30 s
    ASSERT_EQ(d.desiredReplicas, 1);
  }
}

TEST_F(ScalingPolicyTest, ActivatesFromZeroAboveTheActivationBacklog) {
  spec.minReplicas = 0;
  spec.scaling.activationBacklog = 10;
  auto none = tick(obsOf(0, 0, 0, 0));
  EXPECT_EQ(none.desiredReplicas, 0);
  EXPECT_EQ(none.reason, DecisionReason::kIdleAtZero);
  auto below = tick(obsOf(10, 0, 10, 0), 2);
  EXPECT_EQ(below.desiredReplicas, 0);
  auto above = tick(obsOf(11, 0, 11, 0), 2);
  EXPECT_EQ(above.desiredReplicas, 1);
  EXPECT_EQ(above.reason, DecisionReason::kScaledUpFromZero);
}

TEST_F(ScalingPolicyTest, UnknownLagHoldsAndNeverScalesDownOrToZero) {
  spec.minReplicas = 0;
  spec.scaling.idleSeconds = 0;
  for (int i = 0; i < 200; ++i) {
    auto d = tick(obsOf(std::nullopt, 4, 0, 0), i == 0 ? 0 : 2);
    ASSERT_EQ(d.desiredReplicas, 4);
    EXPECT_EQ(d.reason, DecisionReason::kHoldingBacklogUnknown);
    EXPECT_TRUE(d.fallback);
    EXPECT_FALSE(d.scalingActive);
    EXPECT_FALSE(d.backlog.has_value());
  }
}

TEST_F(ScalingPolicyTest, NegativeLagIsUnknownNotEmpty) {
  spec.minReplicas = 0;
  spec.scaling.idleSeconds = 0;
  tick(obsOf(-1, 3, 0, 0));
  auto d = tick(obsOf(-1, 3, 0, 0), 60);
  EXPECT_EQ(d.desiredReplicas, 3);
  EXPECT_EQ(d.reason, DecisionReason::kHoldingBacklogUnknown);
}

TEST_F(ScalingPolicyTest, FailedReadHoldsThenFallsBackAfterNFailures) {
  spec.scaling.fallbackReplicas = 6;
  spec.scaling.failuresBeforeFallback = 3;
  Observation failed;
  failed.readOk = false;
  failed.currentReplicas = 4;
  failed.readyReplicas = 4;
  failed.error = "connection refused";
  auto d1 = tick(failed);
  EXPECT_EQ(d1.desiredReplicas, 4);
  EXPECT_EQ(d1.reason, DecisionReason::kHoldingBacklogUnknown);
  EXPECT_NE(d1.message.find("connection refused"), std::string::npos);
  tick(failed, 2);
  auto d3 = tick(failed, 2);
  EXPECT_EQ(d3.desiredReplicas, 6);
  EXPECT_EQ(d3.reason, DecisionReason::kFallbackReplicas);
  EXPECT_TRUE(d3.fallback);
  // A good read resets the count.
  auto ok = tick(obsOf(0, 6, 0, 0), 2);
  EXPECT_FALSE(ok.fallback);
  EXPECT_EQ(state.consecutiveFailures, 0);
}

TEST_F(ScalingPolicyTest, FallbackNeverScalesDown) {
  spec.scaling.fallbackReplicas = 2;
  spec.scaling.failuresBeforeFallback = 1;
  auto d = tick(obsOf(std::nullopt, 5, 0, 0));
  EXPECT_EQ(d.desiredReplicas, 5);
  EXPECT_EQ(d.reason, DecisionReason::kFallbackReplicas);
}

TEST_F(ScalingPolicyTest, UnknownLagAtZeroWithEvidenceOfWorkActivatesOne) {
  spec.minReplicas = 0;
  auto d = tick(obsOf(std::nullopt, 0, 0, 0, /*pending=*/3));
  EXPECT_EQ(d.desiredReplicas, 1);
  ScalingState s;
  decide(spec, s, obsOf(std::nullopt, 0, 100, 0, 0), clock.now());
  clock.advance(seconds(2));
  EXPECT_EQ(decide(spec, s, obsOf(std::nullopt, 0, 150, 0, 0), clock.now()).desiredReplicas, 1);
  ScalingState quiet;
  EXPECT_EQ(decide(spec, quiet, obsOf(std::nullopt, 0, 0, 0, 0), clock.now()).desiredReplicas, 0);
}

TEST_F(ScalingPolicyTest, UnknownPendingAllowsScaleUpButNotDown) {
  auto up = tick(obsOf(6000, 1, 0, 0, std::nullopt));
  EXPECT_EQ(up.desiredReplicas, 2);
  spec.scaling.scaleDown.stabilizationSeconds = 0;
  tick(obsOf(0, 5, 0, 0, std::nullopt), 2);
  auto down = tick(obsOf(0, 5, 0, 0, std::nullopt), 2);
  EXPECT_EQ(down.desiredReplicas, 5);
  EXPECT_EQ(down.reason, DecisionReason::kHoldingBacklogUnknown);
}

TEST_F(ScalingPolicyTest, PausedKeepsTheCurrentCount) {
  spec.scaling.paused = true;
  auto d = tick(obsOf(1'000'000, 3, 0, 0));
  EXPECT_EQ(d.desiredReplicas, 3);
  EXPECT_EQ(d.reason, DecisionReason::kScalingPaused);
  EXPECT_FALSE(d.scalingActive);
}

TEST_F(ScalingPolicyTest, ReportsEstimatedDrainTime) {
  spec.scaling.podStartupSeconds = 30;
  auto d = tick(obsOf(6000, 1, 0, 0, 0, 0));
  ASSERT_EQ(d.desiredReplicas, 3);
  ASSERT_TRUE(d.estimatedDrainSeconds.has_value());
  EXPECT_NEAR(*d.estimatedDrainSeconds, 20, 1e-9);  // 6000 / (3*100 - 0)
}

TEST_F(ScalingPolicyTest, CounterResetDoesNotProduceNegativeRates) {
  tick(obsOf(0, 2, 1000, 1000));
  auto d = tick(obsOf(0, 2, 10, 10), 2);  // stream recreated
  EXPECT_FALSE(d.arrivalRate.has_value());
  auto e = tick(obsOf(0, 2, 30, 30), 2);
  ASSERT_TRUE(e.arrivalRate.has_value());
  EXPECT_NEAR(*e.arrivalRate, 10, 1e-9);
}

TEST_F(ScalingPolicyTest, StateStaysSmall) {
  for (int i = 0; i < 10000; ++i) tick(obsOf(i % 7 * 1000, 5, 0, 0), 2);
  EXPECT_LE(state.recommendations.size(), 40u);  // window 30 s / 2 s poll (+ slack)
}

}  // namespace
}  // namespace shoal::policy

namespace shoal::policy {
namespace {

// Arbitrary, hostile observations (negative or huge counts, nils, counters
// going backwards, time jumping back) never crash decide() and never break
// its invariants.
TEST(ScalingPolicyInvariants, HoldUnderArbitraryInput) {
  uint64_t x = 0x2545F4914F6CDD1DULL;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  ManualClock clock;
  for (int run = 0; run < 50; ++run) {
    ScalingSpec spec;
    spec.minReplicas = static_cast<int32_t>(next() % 3);
    spec.maxReplicas = static_cast<int32_t>(1 + next() % 30);
    spec.scaling.policy =
        next() % 2 ? ScalingPolicyKind::kDrainTime : ScalingPolicyKind::kTargetBacklogPerReplica;
    if (next() % 2) spec.scaling.fallbackReplicas = static_cast<int32_t>(next() % 40);
    ScalingState state;
    int32_t current = static_cast<int32_t>(next() % 40);
    MonoTime now = clock.now();
    for (int i = 0; i < 400; ++i) {
      Observation o;
      o.readOk = next() % 10 != 0;
      auto pick = [&]() -> std::optional<int64_t> {
        switch (next() % 5) {
          case 0:
            return std::nullopt;
          case 1:
            return -static_cast<int64_t>(next() % 1000);
          case 2:
            return static_cast<int64_t>(next() >> 2);
          default:
            return static_cast<int64_t>(next() % 100000);
        }
      };
      o.lag = pick();
      o.pending = pick();
      if (next() % 4) o.entriesAdded = next() % 1'000'000;
      if (next() % 4) o.entriesRead = next() % 1'000'000;
      o.currentReplicas = current;
      o.readyReplicas = static_cast<int32_t>(next() % 50) - 5;
      now += next() % 8 == 0 ? -seconds(3) : seconds(static_cast<double>(next() % 5));
      Decision d = decide(spec, state, o, now);
      ASSERT_GE(d.desiredReplicas, 0);
      ASSERT_LE(d.desiredReplicas, std::max(spec.maxReplicas, current));
      const bool backlogKnown = o.readOk && o.lag && *o.lag >= 0;
      if (!backlogKnown) {
        ASSERT_GE(d.desiredReplicas, current) << d.message;
      }
      if (d.desiredReplicas < current) {
        ASSERT_TRUE(o.pending && *o.pending >= 0);
      }
      ASSERT_FALSE(d.message.empty());
      ASSERT_LE(state.recommendations.size(), 512u);
      current = d.desiredReplicas;
    }
  }
}

}  // namespace
}  // namespace shoal::policy
