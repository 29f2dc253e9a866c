#!/usr/bin/env bash
# Configures and builds Shoal into the given build directory (default build/).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
GEN=()
if [ ! -f "$BUILD/CMakeCache.txt" ]; then GEN=(-G Ninja); fi
cmake -S . -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo} \
  -DSHOAL_SANITIZE=${SHOAL_SANITIZE:-OFF} >/dev/null
cmake --build "$BUILD" -j "${JOBS:-$(nproc)}"
