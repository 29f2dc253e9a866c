#!/usr/bin/env bash
# Sharded pipelines on a real 6-node Redis Cluster (3 primaries, 3 replicas):
# 8 shard streams preloaded with ~300-byte JSON logs, drained by one and then
# two shoal-worker processes into shoal-bulk-server (ids only); the same 8
# shards on one redis-server; one operator probe of 100 shards. Prints:
#   bench: single_node_8_shards_worker_events_per_s, cluster_worker_events_per_s_workers_{1,2},
#   operator_probe_ms_100_shards, operator_probe_round_trips_per_poll_100_shards
# Usage: bench/cluster/run.sh <build-dir> [entries]
set -euo pipefail
BUILD=${1:?usage: run.sh <build-dir> [entries]}
COUNT=${2:-200000}
BENCH="$BUILD/bench/cluster/cluster_bench"
WORKER="$BUILD/runtime/worker/shoal-worker"
for f in "$BENCH" "$WORKER"; do
  [[ -x "$f" ]] || { echo "run.sh: missing $f (build targets cluster_bench shoal-worker)" >&2; exit 1; }
done
"$BENCH" "$WORKER" "$COUNT"
