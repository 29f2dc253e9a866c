#!/usr/bin/env bash
# Receiver benchmark: a local redis-server and one shoal-receiver process;
# 500-entry NDJSON batches of ~300-byte logs POSTed over 4 keep-alive
# connections (throughput, peak RSS), then 400 more over one connection (the
# p99 of a request), and in the same run the XADD ceiling of that Redis (the
# same entries, pipelined 500 at a time, straight from 4 connections); then
# ~300-byte syslog lines over 2 TCP connections to the receiver's syslog
# port, timed until the stream holds them all (XLEN). Prints:
#   bench: redis_xadd_ceiling_per_s, receiver_http_ndjson_events_per_s,
#   receiver_p99_request_ms, receiver_peak_rss_mib,
#   receiver_syslog_tcp_events_per_s
# Usage: bench/receiver/run.sh <build-dir> [batches] (SHOAL_BENCH_SYSLOG_FRAMES, default 500000)
set -euo pipefail
BUILD=${1:?usage: run.sh <build-dir> [batches]}
BATCHES=${2:-2000}
BENCH="$BUILD/bench/receiver/receiver_bench"
RECEIVER="$BUILD/runtime/receiver/shoal-receiver"
for f in "$BENCH" "$RECEIVER"; do
  [[ -x "$f" ]] || { echo "run.sh: missing $f (build targets receiver_bench shoal-receiver)" >&2; exit 1; }
done
DIR=$(mktemp -d /tmp/shoal-receiver-bench.XXXXXX)
REDIS_PID= RECV_PID=
cleanup() {
  [[ -n "$RECV_PID" ]] && kill "$RECV_PID" 2>/dev/null || true
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
HPORT=$(freeport)
MPORT=$(freeport)
SPORT=$(freeport)
cat > "$DIR/receiver.yaml" <<YAML
spec:
  redis: {address: "127.0.0.1:$RPORT"}
  http:
    port: $HPORT
    routes:
      logs: {stream: bench-logs}
  syslog:
    tcp: {port: $SPORT}
    route: {stream: bench-syslog}
  backpressure: {maxBacklog: 0}
  metricsPort: $MPORT
YAML
for _ in $(seq 1 200); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
"$RECEIVER" --config "$DIR/receiver.yaml" --log-level warn 2> "$DIR/receiver.log" &
RECV_PID=$!
for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$HPORT") 2>/dev/null && break; sleep 0.05; done
"$BENCH" http --url "http://127.0.0.1:$HPORT" --batches "$BATCHES" --connections 4 --pid "$RECV_PID" \
  --phase throughput
"$BENCH" http --url "http://127.0.0.1:$HPORT" --batches 400 --connections 1 --phase latency
got=$(redis-cli -p "$RPORT" xlen bench-logs)
if [[ "$got" != "$((BATCHES * 500 + 400 * 500))" ]]; then
  echo "run.sh: bench-logs holds $got entries, expected $((BATCHES * 500 + 400 * 500))" >&2
  exit 1
fi
# The ceiling second, on a Redis as warm as the receiver had it.
redis-cli -p "$RPORT" del bench-logs >/dev/null
"$BENCH" ceiling --redis "redis://127.0.0.1:$RPORT" --stream bench-ceiling --batches "$BATCHES"
# Syslog over TCP through the receiver into Redis (the ceiling's entries freed first).
redis-cli -p "$RPORT" del bench-ceiling >/dev/null
"$BENCH" syslog --port "$SPORT" --redis "redis://127.0.0.1:$RPORT" --stream bench-syslog \
  --frames "${SHOAL_BENCH_SYSLOG_FRAMES:-500000}" --connections 2
