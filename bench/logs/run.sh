#!/usr/bin/env bash
# Logs pipeline benchmarks. Usage: bench/logs/run.sh BUILD_DIR
# Prints:
#   bench: logs_handler_batch100_p50_ms / _p99_ms  (100-entry batch, sink time excluded, wall)
#   bench: logs_handler_batch100_cpu_p99_ms         (the same in thread CPU time)
#   bench: logs_handler_entries_per_cpu_s
#   bench: bulk_server_docs_per_s                   (shoal-bulk-server ingest, 500 docs/request)
set -euo pipefail
BUILD=${1:-build}
BIN="$BUILD/bench/logs/logs_bench"
if [ ! -x "$BIN" ]; then
  cmake --build "$BUILD" --target logs_bench >&2
fi
exec "$BIN" --batches "${SHOAL_BENCH_LOGS_BATCHES:-3000}" --server-docs "${SHOAL_BENCH_LOGS_SERVER_DOCS:-200000}"
