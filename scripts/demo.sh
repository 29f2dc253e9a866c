#!/usr/bin/env bash
# `make demo`: Shoal's whole loop on one machine. Builds what the demo needs,
# starts a local Redis (or uses REDIS_URL) and shoal-bulk-server as the
# Elasticsearch stand-in, runs local mode (shoal-local) with the example logs
# pipeline and its Receiver (one shoal-receiver process), sends a burst with
# shoal-loadgen through the receiver over HTTP (NDJSON batches to /v1/logs),
# shows the pool scaling up, draining and scaling back down, then prints a
# summary (fails unless every entry the receiver accepted was delivered) and
# writes a chart of backlog and replicas to <build>/demo/demo-chart.svg
# (copied to docs/demo-chart.svg). Stops everything it started, whatever
# happens.
#
# Usage: scripts/demo.sh [BUILD_DIR]            (default: build)
# Environment:
#   REDIS_URL            use this Redis instead of starting one (the demo then
#                        uses a fresh stream name and leaves other keys alone)
#   DEMO_ENTRIES         entries in the burst (default 500000)
#   DEMO_PAYLOAD_BYTES   approximate size of each log line (default 300)
#   DEMO_TIMEOUT         seconds to wait for drain and scale-down (default 300)
#   DEMO_VIEW            live | log (default: live on a terminal, else log)
#   DEMO_SKIP_BUILD=1    use the binaries already in BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
OUT="$BUILD/demo"
ENTRIES=${DEMO_ENTRIES:-500000}
PAYLOAD=${DEMO_PAYLOAD_BYTES:-300}
TIMEOUT=${DEMO_TIMEOUT:-300}
if [ -t 1 ]; then VIEW=${DEMO_VIEW:-live}; else VIEW=${DEMO_VIEW:-log}; fi

say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }

# --- build -------------------------------------------------------------------
if [ "${DEMO_SKIP_BUILD:-0}" != 1 ]; then
  say "building shoal-local, shoal-worker, shoal-receiver, shoal-loadgen and shoal-bulk-server into $BUILD"
  GEN=()
  if [ ! -f "$BUILD/CMakeCache.txt" ]; then GEN=(-G Ninja); fi
  cmake -S "$ROOT" -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo} >/dev/null
  cmake --build "$BUILD" -j "${JOBS:-$(nproc)}" \
    --target shoal-local shoal-worker shoal-receiver shoal-loadgen shoal-bulk-server
fi
LOCAL="$BUILD/operator/local/shoal-local"
WORKER="$BUILD/runtime/worker/shoal-worker"
RECEIVER="$BUILD/runtime/receiver/shoal-receiver"
LOADGEN="$BUILD/runtime/loadgen/shoal-loadgen"
BULK="$BUILD/tests/tools/bulk_server/shoal-bulk-server"
for b in "$LOCAL" "$WORKER" "$RECEIVER" "$LOADGEN" "$BULK"; do
  [ -x "$b" ] || { echo "demo: missing $b (build failed?)" >&2; exit 1; }
done

rm -rf "$OUT"
mkdir -p "$OUT"

# --- cleanup: stop exactly what we started -----------------------------------
LOCAL_PID="" BULK_PID="" REDIS_PID=""
cleanup() {
  local rc=$?
  set +e
  if [ -n "$LOCAL_PID" ] && kill -0 "$LOCAL_PID" 2>/dev/null; then
    kill -TERM "$LOCAL_PID"
    for _ in $(seq 1 400); do kill -0 "$LOCAL_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$LOCAL_PID" 2>/dev/null
  fi
  [ -n "$BULK_PID" ] && kill "$BULK_PID" 2>/dev/null && wait "$BULK_PID" 2>/dev/null
  if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
    kill "$REDIS_PID"
    for _ in $(seq 1 50); do kill -0 "$REDIS_PID" 2>/dev/null || break; sleep 0.1; done
  fi
  printf '\033[?25h' 2>/dev/null  # the cursor, in case the live view hid it
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    if ! port_in_use "$p"; then echo "$p"; return 0; fi
  done
  echo "demo: no free port" >&2
  return 1
}
wait_for() {  # wait_for SECONDS CMD...: polls CMD every 0.1 s
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# --- Redis -------------------------------------------------------------------
STREAM="logs:app"
if [ -n "${REDIS_URL:-}" ]; then
  URL="$REDIS_URL"
  STREAM="logs:demo-$(date +%s)-$$"
  say "using Redis at $URL (stream $STREAM)"
else
  command -v redis-server >/dev/null || { echo "demo: redis-server not installed (make deps)" >&2; exit 1; }
  RPORT=$(free_port)
  mkdir -p "$OUT/redis"
  redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --dir "$OUT/redis" --pidfile "$OUT/redis/redis.pid" --logfile "$OUT/redis/redis.log"
  URL="redis://127.0.0.1:$RPORT"
  wait_for 10 test -s "$OUT/redis/redis.pid" || { echo "demo: redis-server did not start" >&2; exit 1; }
  REDIS_PID=$(cat "$OUT/redis/redis.pid")
  wait_for 10 redis-cli -u "$URL" ping || { echo "demo: redis-server not answering" >&2; exit 1; }
  say "started redis-server on 127.0.0.1:$RPORT (pid $REDIS_PID)"
fi
rcli() { redis-cli -u "$URL" "$@"; }

# --- the Elasticsearch stand-in ----------------------------------------------
BPORT=$(free_port)
# One server thread per keep-alive connection: every worker holds one or two.
"$BULK" --port "$BPORT" --no-store-sources --threads 64 >"$OUT/bulk-server.log" 2>&1 &
BULK_PID=$!
ES_URL="http://127.0.0.1:$BPORT"
wait_for 10 curl -sf "$ES_URL/_shoal/stats" || { echo "demo: shoal-bulk-server did not start" >&2; exit 1; }
say "started shoal-bulk-server (Elasticsearch _bulk stand-in) on 127.0.0.1:$BPORT (pid $BULK_PID)"
delivered() { curl -sf "$ES_URL/_shoal/stats" | grep -o '"totalDocs":[0-9]*' | cut -d: -f2; }

# --- local mode ----------------------------------------------------------------
HPORT=$(free_port)
MPORT=$(free_port)
while [ "$MPORT" = "$HPORT" ]; do MPORT=$(free_port); done
RECEIVER_URL="http://127.0.0.1:$HPORT"
sed -e "s#url: http://127.0.0.1:9200#url: $ES_URL#" -e "s#stream: logs:app#stream: \"$STREAM\"#" \
  -e "s#port: 8080#port: $HPORT#" -e "s#metricsPort: 9095#metricsPort: $MPORT#" \
  deploy/local/logs-demo.yaml >"$OUT/logs-demo.yaml"
HISTORY="$OUT/history.csv"
say "starting shoal-local with $OUT/logs-demo.yaml (view: $VIEW; logs in $OUT/work)"
"$LOCAL" --file "$OUT/logs-demo.yaml" --redis-url "$URL" --worker-binary "$WORKER" --receiver-binary "$RECEIVER" \
  --status-file "$OUT/status.json" --history-file "$HISTORY" --chart-file "$OUT/demo-chart.svg" \
  --summary-file "$OUT/summary.txt" --work-dir "$OUT/work" --view "$VIEW" \
  --log-file "$OUT/shoal-local.log" &
LOCAL_PID=$!

# The last history line: t,pool,lag,pending,backlog,in,out,desired,replicas,ready
last() { tail -n 1 "$HISTORY" 2>/dev/null | cut -d, -f"$1"; }
pool_ready() { [ "$(last 10)" = 1 ] 2>/dev/null; }
wait_for 60 pool_ready || { echo "demo: the worker pool did not become ready; see $OUT" >&2; exit 1; }
# The receiver is ready once it answers /readyz (Redis reachable).
wait_for 60 curl -sf "http://127.0.0.1:$MPORT/readyz" ||
  { echo "demo: shoal-receiver did not become ready; see $OUT/work/*receiver.log" >&2; exit 1; }
[ "$VIEW" = live ] || say "one worker and the receiver ($RECEIVER_URL) are ready; sending the burst over HTTP"

# --- the burst, through the receiver -------------------------------------------
# NDJSON batches of 500 JSON log lines to POST /v1/logs; a batch answered 429
# (backlog over maxBacklog) or 503 is sent again after Retry-After, never dropped.
BURST_AT=$SECONDS
"$LOADGEN" --http "$RECEIVER_URL" --batch 500 --kind json --total "$ENTRIES" --burst "$ENTRIES" \
  --payload-bytes "$PAYLOAD" --quiet >"$OUT/loadgen.out" 2>&1 || {
  echo "demo: shoal-loadgen failed:" >&2; cat "$OUT/loadgen.out" >&2; exit 1; }
loadgen_field() { grep -o "\b$1=[0-9]*" "$OUT/loadgen.out" | head -n 1 | cut -d= -f2; }
SENT=$(loadgen_field sent)
ACCEPTED=$(loadgen_field accepted)
THROTTLED=$(loadgen_field throttled)
[ -n "$ACCEPTED" ] || { echo "demo: shoal-loadgen printed no accepted count:" >&2; cat "$OUT/loadgen.out" >&2; exit 1; }

# --- wait: scale up, drain, scale down ----------------------------------------
PEAK=1
DRAINED_AT=""
while :; do
  r=$(last 9); d=$(last 8); b=$(last 5)
  [ -n "$r" ] && [ "$r" -gt "$PEAK" ] 2>/dev/null && PEAK=$r
  n=$(delivered || echo 0)
  dead=$(rcli XLEN "$STREAM:dead" 2>/dev/null || echo 0)
  if [ -z "$DRAINED_AT" ] && [ "$b" = 0 ] && [ $((n + dead)) -ge "$ACCEPTED" ]; then DRAINED_AT=$SECONDS; fi
  # Drained and back at one worker (a small burst may never have needed a second).
  if [ -n "$DRAINED_AT" ] && [ "$r" = 1 ] && [ "$d" = 1 ]; then break; fi
  if [ $((SECONDS - BURST_AT)) -ge "$TIMEOUT" ]; then
    echo "demo: not drained and scaled down within ${TIMEOUT}s (delivered $n of $ACCEPTED, replicas $r)" >&2
    exit 1
  fi
  sleep 1
done
sleep 2  # one more sample at the resting size for the chart

# --- stop local mode (drains the last worker) and report ---------------------
kill -TERM "$LOCAL_PID"
wait "$LOCAL_PID" || true
LOCAL_PID=""
DELIVERED=$(delivered || echo "?")
DEAD=$(rcli XLEN "$STREAM:dead" 2>/dev/null || echo "?")
PENDING=$(rcli XPENDING "$STREAM" shoal-app-logs 2>/dev/null | head -n 1)
SUMMARY=$(grep 'pool=default/app-logs' "$OUT/summary.txt" || true)
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$SUMMARY"; }
cp "$OUT/demo-chart.svg" docs/demo-chart.svg 2>/dev/null || { mkdir -p docs && cp "$OUT/demo-chart.svg" docs/demo-chart.svg; }

echo
say "summary"
printf '  %-26s %s\n' \
  "entries sent (HTTP)" "$SENT (NDJSON batches of 500 to $RECEIVER_URL/v1/logs)" \
  "accepted (receiver, 200)" "$ACCEPTED (batches answered 429 and sent again: ${THROTTLED:-0})" \
  "delivered (bulk server)" "$DELIVERED" \
  "dead-lettered" "$DEAD" \
  "pending after the run" "${PENDING:-?}" \
  "peak replicas" "$(field peak_replicas)" \
  "time to drain" "$(field drain_seconds) s (first backlog sample to empty)" \
  "replica-seconds" "$(field replica_seconds) (whole run, $(field duration_seconds) s)" \
  "chart" "$OUT/demo-chart.svg (copied to docs/demo-chart.svg)" \
  "history" "$HISTORY"
if [ "$DELIVERED" != "$ACCEPTED" ]; then
  echo "demo: delivered ($DELIVERED) != accepted by the receiver ($ACCEPTED)" >&2
  exit 1
fi
say "accepted = delivered: every entry the receiver took reached the sink, once"
if [ "$(field peak_replicas)" = 1 ]; then
  say "the burst drained before the pool needed a second worker; a larger DEMO_ENTRIES shows it scale"
fi

