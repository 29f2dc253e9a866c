#!/usr/bin/env bash
# Syslog input benchmarks. Usage: bench/syslog_input/run.sh BUILD_DIR
# Prints:
#   bench: syslog_decode_frames_per_s        (decoder only, 300-byte lines, one thread)
#   bench: syslog_tcp_frames_per_s           (newline framing, loopback, 2 senders, in-memory sink)
#   bench: syslog_tcp_octet_frames_per_s     (the same with octet counting)
set -euo pipefail
BUILD=${1:-build}
BIN="$BUILD/bench/syslog_input/syslog_input_bench"
if [ ! -x "$BIN" ]; then
  cmake --build "$BUILD" --target syslog_input_bench >&2
fi
exec "$BIN" --frames "${SHOAL_BENCH_SYSLOG_FRAMES:-1000000}"
