// The probe cost of a fleet of sharded pipelines, planned from what one probe
// of real shards costs (bench/cluster measures it on a real Redis Cluster).
// The operator probes every shard stream of every Pipeline once per poll
// interval, one shard after another (the probe serialises its reads), with
// two commands per shard (XINFO GROUPS and XINFO STREAM). From the measured
// per-shard figures this gives, for P pipelines of S shards polled every I
// seconds: the Redis commands and bytes per second the fleet asks of Redis,
// the operator CPU it takes, and how much of each poll interval the probe
// spends reading. Past half the interval (or one core) one operator no longer
// keeps up, and the work must be split between operators.
#pragma once

#include <cstdint>

namespace shoal::sim {

/// What one probe of one shard stream costs, measured.
struct ShardProbeCost {
  double wallMs = 0;          // elapsed, one shard after another
  double cpuMs = 0;           // the operator's user+system CPU
  double commands = 0;        // Redis commands
  double bytesToRedis = 0;    // request bytes
  double bytesFromRedis = 0;  // reply bytes
};

struct Fleet {
  int64_t pipelines = 1000;
  int64_t shardsPerPipeline = 16;
  double pollIntervalSeconds = 2;  // the policy's default
};

struct FleetPlan {
  int64_t shardStreams = 0;
  double commandsPerSecond = 0;
  double bytesPerSecond = 0;      // both directions
  double operatorCpuCores = 0;    // CPU per second of wall time
  double probeSecondsPerPoll = 0; // one poll of every shard, serialised
  double pollBusyFraction = 0;    // probeSecondsPerPoll / pollIntervalSeconds
  /// The most shard streams one operator probes within half its poll
  /// interval and half a core: past it, shard the operator's own work.
  int64_t maxShardStreamsPerOperator = 0;
  /// Operators needed for this fleet at that limit (at least 1).
  int64_t operatorsNeeded = 1;
};

FleetPlan planFleet(const Fleet& fleet, const ShardProbeCost& cost);

}  // namespace shoal::sim
