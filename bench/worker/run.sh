#!/usr/bin/env bash
# Worker benchmark (issues 2 and 13): 1,000,000 preloaded ~300-byte JSON logs
# in a local redis-server, one shoal-worker process draining them into
# shoal-bulk-server (ids only, no sources kept), three times on the same
# stream (a new consumer group each time): one delivery pipeline, two
# (delivery.parallelism: 2), and one with gzip bodies. Prints:
#   bench: redis_read_ack_ceiling_per_s, worker_bench_idle_cores,
#   worker_logs_events_per_s, worker_logs_cpu_us_per_event,
#   worker_peak_rss_mib, worker_bulk_bytes_per_event (and the same with
#   _threads_2 and _gzip), worker_logs_events_per_s_threads_1,
#   worker_logs_threads_2_ratio, worker_bulk_gzip_ratio,
#   worker_gzip_cpu_us_per_event, worker_batch100_p99_ms,
#   worker_wide_entry_{10k,50k}_fields[_fast]_ms, worker_wide_entry_us_per_field
# Usage: bench/worker/run.sh <build-dir> [entries]
set -euo pipefail
BUILD=${1:?usage: run.sh <build-dir> [entries]}
COUNT=${2:-1000000}
BENCH="$BUILD/bench/worker/worker_bench"
WORKER="$BUILD/runtime/worker/shoal-worker"
BULK="$BUILD/tests/tools/bulk_server/shoal-bulk-server"
for f in "$BENCH" "$WORKER" "$BULK"; do
  [[ -x "$f" ]] || { echo "run.sh: missing $f (build targets worker_bench shoal-worker shoal-bulk-server)" >&2; exit 1; }
done
DIR=$(mktemp -d /tmp/shoal-worker-bench.XXXXXX)
REDIS_PID= BULK_PID=
cleanup() {
  [[ -n "$BULK_PID" ]] && kill "$BULK_PID" 2>/dev/null || true
  [[ -n "$REDIS_PID" ]] && kill "$REDIS_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RPORT=$(freeport)
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR" \
  --logfile "$DIR/redis.log" --daemonize no &
REDIS_PID=$!
BPORT=$(freeport)
"$BULK" --port "$BPORT" --no-store-sources > "$DIR/bulk.out" 2> "$DIR/bulk.err" &
BULK_PID=$!
for _ in $(seq 1 200); do
  redis-cli -p "$RPORT" ping >/dev/null 2>&1 && \
    (exec 3<>"/dev/tcp/127.0.0.1/$BPORT") 2>/dev/null && break
  sleep 0.05
done
URL="redis://127.0.0.1:$RPORT"
"$BENCH" preload --redis "$URL" --stream bench-logs --count "$COUNT"
"$BENCH" ceiling --redis "$URL" --stream bench-logs
"$BENCH" idle
drain() {
  "$BENCH" drain --redis "$URL" --stream bench-logs --count "$COUNT" --worker "$WORKER" \
    --sink "http://127.0.0.1:$BPORT" --dir "$DIR" "$@" | tee -a "$DIR/drains.out"
}
drain --group bench
drain --group bench-threads-2 --parallelism 2 --suffix _threads_2
drain --group bench-gzip --compression gzip --suffix _gzip
# The ratios, from the lines above (same run, same stream).
awk '
  $2 == "worker_logs_events_per_s" { one = $3 }
  $2 == "worker_logs_events_per_s_threads_2" { two = $3 }
  $2 == "worker_bulk_bytes_per_event" { plain = $3 }
  $2 == "worker_bulk_bytes_per_event_gzip" { gz = $3 }
  $2 == "worker_logs_cpu_us_per_event" { cpu = $3 }
  $2 == "worker_logs_cpu_us_per_event_gzip" { cpugz = $3 }
  END {
    printf "bench: worker_logs_events_per_s_threads_1 %s events/s\n", one
    if (one > 0) printf "bench: worker_logs_threads_2_ratio %.2f x\n", two / one
    if (gz > 0) printf "bench: worker_bulk_gzip_ratio %.2f x\n", plain / gz
    printf "bench: worker_gzip_cpu_us_per_event %.2f us\n", cpugz - cpu
  }' "$DIR/drains.out"
"$BENCH" batch --redis "$URL" --stream bench-logs --batches 2000
"$BENCH" wide
