#!/usr/bin/env bash
# Safe retention's one atomic step on a real redis-server: how long the trim
# script holds Redis. Prints:
#   bench: retention_trim_ms_200k_acknowledged   one trim of 200,000 acknowledged ~300-byte entries
#   bench: retention_trim_ms_keep_10k            a trim keeping the largest keepAcknowledged.count
#   bench: retention_trim_noop_ms_10_groups      a round with nothing to trim, 10 groups with pending entries
# Usage: bench/retention/run.sh <build-dir>
set -euo pipefail
BUILD=${1:?usage: bench/retention/run.sh <build-dir>}
cmake --build "$BUILD" --target retention_bench >&2
exec "$BUILD/bench/retention/retention_bench"
