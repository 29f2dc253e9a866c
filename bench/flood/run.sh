#!/usr/bin/env bash
# Flood benchmark ("bounded memory under a flood"): one shoal-worker
# (logs pipeline) against a redis-server holding a 10x burst (default
# 1,000,000 entries; 100,000 is the normal burst) and shoal-bulk-server as the
# sink (ids only), optionally slowed down by DELAY_MS per bulk request. The
# worker's RSS is sampled from /proc every 100 ms until the whole burst is
# indexed and acknowledged. Prints:
#   bench: worker_flood_entries <N> entries
#   bench: worker_flood_seconds <S> s
#   bench: worker_flood_peak_rss_mib <N> MiB
#   bench: worker_flood_rss_growth_mib <N> MiB   (peak minus the RSS once the
#                                                 first 10% of the run passed)
# Bounded memory means the peak does not depend on the backlog: the consumer
# loop holds one batch at a time (read, deliver, acknowledge, read the next).
# Usage: bench/flood/run.sh <build-dir> [entries] [sink-delay-ms]
set -euo pipefail
BUILD=${1:?usage: run.sh <build-dir> [entries] [sink-delay-ms]}
COUNT=${2:-1000000}
DELAY_MS=${3:-0}
WORKER="$BUILD/runtime/worker/shoal-worker"
BULK="$BUILD/tests/tools/bulk_server/shoal-bulk-server"
for f in "$WORKER" "$BULK"; do
  [[ -x "$f" ]] || { echo "run.sh: missing $f (build targets shoal-worker shoal-bulk-server)" >&2; exit 1; }
done
DIR=$(mktemp -d /tmp/shoal-flood-bench.XXXXXX)
REDIS_PID= BULK_PID= WORKER_PID=
cleanup() {
  for p in "$WORKER_PID" "$BULK_PID" "$REDIS_PID"; do
    [[ -n "$p" ]] && kill "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
waitfor() {  # waitfor <seconds> <command...>: polls the command until it succeeds
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

RPORT=$(freeport)
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR" \
  --logfile "$DIR/redis.log" --daemonize no &
REDIS_PID=$!
R() { redis-cli -p "$RPORT" "$@"; }
waitfor 10 R ping || { echo "run.sh: redis-server did not start" >&2; exit 1; }

# The burst, written server-side in chunks (one Lua call per 100,000 entries
# keeps each call short): ~250-byte JSON logs.
LUA='for i = 1, tonumber(ARGV[1]) do
  local n = tonumber(ARGV[2]) + i
  redis.call("XADD", KEYS[1], "*", "message",
    "{\"@timestamp\":\"2026-11-21T05:00:00.000Z\",\"level\":\"info\",\"service\":{\"name\":\"checkout\"},"
    .. "\"message\":\"flood entry " .. n .. " lorem ipsum dolor sit amet consectetur adipiscing elit sed do\","
    .. "\"trace\":{\"id\":\"4bf92f3577b34da6a3ce929d0e0e4736\"},\"http\":{\"status\":200}}")
end
return 1'
added=0
while ((added < COUNT)); do
  n=$((COUNT - added < 100000 ? COUNT - added : 100000))
  R EVAL "$LUA" 1 logs "$n" "$added" >/dev/null
  added=$((added + n))
done
[[ "$(R XLEN logs)" == "$COUNT" ]] || { echo "run.sh: XLEN logs != $COUNT" >&2; exit 1; }

BPORT=$(freeport)
"$BULK" --port "$BPORT" --no-store-sources >"$DIR/bulk.out" 2>"$DIR/bulk.err" &
BULK_PID=$!
waitfor 10 curl -sf "http://127.0.0.1:$BPORT/_shoal/stats" || { echo "run.sh: bulk server did not start" >&2; exit 1; }
if ((DELAY_MS > 0)); then
  curl -sf -XPOST -H 'Content-Type: application/json' -d "{\"ms\":$DELAY_MS,\"next\":-1}" \
    "http://127.0.0.1:$BPORT/_shoal/faults/delay" >/dev/null
fi

cat >"$DIR/pipeline.yaml" <<EOF
spec:
  type: logs
  source:
    redis: {url: "redis://127.0.0.1:$RPORT", stream: logs, consumerGroup: flood, startId: "0"}
  delivery: {batchSize: 500}
  transform: {logs: {format: json}}
  sink:
    elasticsearch: {url: "http://127.0.0.1:$BPORT", index: flood}
EOF
SHOAL_CONSUMER_NAME=flood-1 "$WORKER" --config "$DIR/pipeline.yaml" --listen "127.0.0.1:$(freeport)" \
  --log-level warn 2>"$DIR/worker.log" &
WORKER_PID=$!

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$WORKER_PID/status" 2>/dev/null || echo 0; }
docs() { curl -sf "http://127.0.0.1:$BPORT/_shoal/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("totalDocs",0))'; }
START=$(date +%s.%N)
: >"$DIR/samples"
last_check=0
while :; do
  kill -0 "$WORKER_PID" 2>/dev/null || { echo "run.sh: the worker exited" >&2; cat "$DIR/worker.log" >&2; exit 1; }
  now=$(date +%s.%N)
  echo "$(echo "$now - $START" | bc) $(rss_kib)" >>"$DIR/samples"
  # Check progress every second (a curl + python per sample would skew it).
  if (( ${now%.*} > last_check )); then
    last_check=${now%.*}
    if [[ "$(docs)" == "$COUNT" ]] && [[ "$(R XPENDING logs flood | head -1)" == "0" ]]; then break; fi
    if (( ${now%.*} - ${START%.*} > 1800 )); then echo "run.sh: not drained within 30 min" >&2; exit 1; fi
  fi
  sleep 0.1
done
END=$(date +%s.%N)
kill "$WORKER_PID" && wait "$WORKER_PID" 2>/dev/null || true
WORKER_PID=

awk -v count="$COUNT" -v total="$(echo "$END - $START" | bc)" '
  { t[NR] = $1; r[NR] = $2; if ($2 > peak) peak = $2 }
  END {
    base = -1
    for (i = 1; i <= NR; i++) if (t[i] >= 0.1 * total) { base = r[i]; break }
    if (base < 0) base = r[NR]
    printf "bench: worker_flood_entries %d entries\n", count
    printf "bench: worker_flood_seconds %.1f s\n", total
    printf "bench: worker_flood_peak_rss_mib %.1f MiB\n", peak / 1024
    printf "bench: worker_flood_rss_growth_mib %.1f MiB\n", (peak - base) / 1024
  }' "$DIR/samples"
