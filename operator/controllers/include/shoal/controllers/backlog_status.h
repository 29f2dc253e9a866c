// status.backlog of a Pipeline or WorkerPool from a probe reading: lag,
// pending and their total, and for a sharded source the shard count and the
// hottest shard, so that one hot shard is visible in `kubectl get -o yaml`.
#pragma once

#include "shoal/api/pipeline.h"
#include "shoal/probe/backlog_probe.h"

namespace shoal::controllers {

inline api::BacklogStatus backlogStatusOf(const probe::BacklogReading& r) {
  api::BacklogStatus b;
  if (!r.ok) return b;
  b.lag = r.snapshot.lag;
  b.pending = r.snapshot.pending;
  b.total = r.backlog();
  if (r.snapshot.shards > 1) {
    b.shards = r.snapshot.shards;
    if (!r.snapshot.hottestShard.empty()) {
      b.hottestShard = r.snapshot.hottestShard;
      b.hottestShardTotal = r.snapshot.hottestShardBacklog;
    }
  }
  return b;
}

}  // namespace shoal::controllers
