#include "shoal/sim/fleet.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace shoal::sim {

FleetPlan planFleet(const Fleet& fleet, const ShardProbeCost& cost) {
  FleetPlan p;
  p.shardStreams = std::max<int64_t>(0, fleet.pipelines) * std::max<int64_t>(0, fleet.shardsPerPipeline);
  const double interval = fleet.pollIntervalSeconds > 0 ? fleet.pollIntervalSeconds : 1;
  const double perSecond = static_cast<double>(p.shardStreams) / interval;
  p.commandsPerSecond = perSecond * cost.commands;
  p.bytesPerSecond = perSecond * (cost.bytesToRedis + cost.bytesFromRedis);
  p.operatorCpuCores = perSecond * cost.cpuMs / 1000.0;
  p.probeSecondsPerPoll = static_cast<double>(p.shardStreams) * cost.wallMs / 1000.0;
  p.pollBusyFraction = p.probeSecondsPerPoll / interval;

  // Half the interval of serialised reads, and half a core.
  double limit = std::numeric_limits<double>::infinity();
  if (cost.wallMs > 0) limit = std::min(limit, 0.5 * interval * 1000.0 / cost.wallMs);
  if (cost.cpuMs > 0) limit = std::min(limit, 0.5 * interval * 1000.0 / cost.cpuMs);
  p.maxShardStreamsPerOperator =
      std::isinf(limit) ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(std::floor(limit));
  if (p.maxShardStreamsPerOperator > 0 && p.shardStreams > 0)
    p.operatorsNeeded = std::max<int64_t>(
        1, (p.shardStreams + p.maxShardStreamsPerOperator - 1) / p.maxShardStreamsPerOperator);
  return p;
}

}  // namespace shoal::sim
