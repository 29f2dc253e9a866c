// The sharded part of status.backlog, from a probe reading: the shard count
// and the hottest shard, so that one hot shard is visible in `kubectl get -o
// yaml` and the metrics. Nothing is set for a source of one stream.
#pragma once

#include "shoal/api/pipeline.h"
#include "shoal/probe/backlog_probe.h"

namespace shoal::controllers {

inline void fillShardStatus(api::BacklogStatus& b, const probe::BacklogReading& r) {
  if (!r.ok || r.snapshot.shards <= 1) return;
  b.shards = r.snapshot.shards;
  if (!r.snapshot.hottestShard.empty()) {
    b.hottestShard = r.snapshot.hottestShard;
    b.hottestShardTotal = r.snapshot.hottestShardBacklog;
  }
}

}  // namespace shoal::controllers
