// The fleet probe-cost plan (bench/sim/fleet.h): pure arithmetic from the
// per-shard cost one real probe measured.
#include "shoal/sim/fleet.h"

#include <gtest/gtest.h>

namespace shoal::sim {
namespace {

TEST(FleetPlan, ScalesThePerShardCostByShardsOverThePollInterval) {
  ShardProbeCost c{.wallMs = 0.1, .cpuMs = 0.02, .commands = 2, .bytesToRedis = 60, .bytesFromRedis = 700};
  FleetPlan p = planFleet(Fleet{.pipelines = 1000, .shardsPerPipeline = 16, .pollIntervalSeconds = 2}, c);
  EXPECT_EQ(p.shardStreams, 16000);
  EXPECT_DOUBLE_EQ(p.commandsPerSecond, 16000.0);         // 8000 shards/s x 2
  EXPECT_DOUBLE_EQ(p.bytesPerSecond, 8000.0 * 760);
  EXPECT_NEAR(p.operatorCpuCores, 0.16, 1e-9);            // 8000/s x 0.02 ms
  EXPECT_NEAR(p.probeSecondsPerPoll, 1.6, 1e-9);          // 16000 x 0.1 ms, serialised
  EXPECT_NEAR(p.pollBusyFraction, 0.8, 1e-9);
  // Half of 2 s at 0.1 ms a shard: 10000 shard streams; 16000 need two operators.
  EXPECT_EQ(p.maxShardStreamsPerOperator, 10000);
  EXPECT_EQ(p.operatorsNeeded, 2);
}

TEST(FleetPlan, CpuBoundsTheLimitWhenItCostsMoreThanTheWait) {
  ShardProbeCost c{.wallMs = 0.05, .cpuMs = 0.25, .commands = 2};
  FleetPlan p = planFleet(Fleet{.pipelines = 100, .shardsPerPipeline = 16, .pollIntervalSeconds = 1}, c);
  EXPECT_EQ(p.maxShardStreamsPerOperator, 2000);  // half a core: 500 ms / 0.25 ms
  EXPECT_EQ(p.operatorsNeeded, 1);
}

TEST(FleetPlan, AnEmptyFleetNeedsOneOperatorAndCostsNothing) {
  FleetPlan p = planFleet(Fleet{.pipelines = 0}, ShardProbeCost{.wallMs = 1, .cpuMs = 1, .commands = 2});
  EXPECT_EQ(p.shardStreams, 0);
  EXPECT_EQ(p.commandsPerSecond, 0);
  EXPECT_EQ(p.operatorsNeeded, 1);
}

}  // namespace
}  // namespace shoal::sim
