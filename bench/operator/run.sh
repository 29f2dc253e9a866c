#!/usr/bin/env bash
# Operator benchmarks: reaction time, RSS with 100 pools, reconcile p99.
# Usage: bench/operator/run.sh <build-dir>. Prints `bench: ...` lines.
set -euo pipefail
BUILD=${1:?usage: bench/operator/run.sh <build-dir>}
cmake --build "$BUILD" --target operator_bench shoal-operator >&2
exec "$BUILD/bench/operator/operator_bench"
