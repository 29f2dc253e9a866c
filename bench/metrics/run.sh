#!/usr/bin/env bash
# Metrics pipeline benchmarks. Usage: bench/metrics/run.sh BUILD_DIR
# Prints:
#   bench: worker_metrics_samples_per_s             (one shoal-worker, 1,000,000 preloaded events -> rw_receiver)
#   bench: worker_metrics_to_prometheus_samples_per_s (same, into the real Prometheus)
#   bench: worker_metrics_postgres_events_per_s     (same, into PostgreSQL aggregates)
# Each event is one counter sample. If shoal-worker is not built, the same
# names are measured at the BatchHandler level (no Redis, no consumer loop)
# and suffixed _handler_, so the two are never confused.
# SHOAL_BENCH_METRICS_EVENTS overrides the event count.
set -euo pipefail
BUILD=${1:-build}
EVENTS=${SHOAL_BENCH_METRICS_EVENTS:-1000000}
RECEIVER="$BUILD/tests/tools/rw_receiver/rw_receiver"
WORKER="$BUILD/runtime/worker/shoal-worker"
if [ -x "$WORKER" ] && [ -x "$BUILD/bench/metrics/metrics_worker_bench" ]; then
  for sink in receiver prometheus postgres; do
    "$BUILD/bench/metrics/metrics_worker_bench" --sink "$sink" --events "$EVENTS" --worker "$WORKER" --receiver "$RECEIVER"
  done
else
  echo "# shoal-worker not built: measuring at the handler level" >&2
  for sink in receiver prometheus postgres; do
    "$BUILD/bench/metrics/metrics_handler_bench" --sink "$sink" --events "$EVENTS" --receiver "$RECEIVER"
  done
fi
