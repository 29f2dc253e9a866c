#!/usr/bin/env bash
# Runs the scaling simulator: prints the `bench:` lines and writes
# <build-dir>/bench/sim_table.md and <build-dir>/bench/sim_<trace>.svg.
# Usage: bench/sim/run.sh <build-dir>   (the build must contain shoal-sim)
set -euo pipefail
BUILD=${1:?usage: bench/sim/run.sh <build-dir>}
BUILD=$(cd "$BUILD" && pwd)
SIM="$BUILD/bench/sim/shoal-sim"
if [ ! -x "$SIM" ]; then
  cmake --build "$BUILD" --target shoal-sim >&2
fi
mkdir -p "$BUILD/bench"
"$SIM" --out "$BUILD/bench" --seed "${SHOAL_SIM_SEED:-1}"
