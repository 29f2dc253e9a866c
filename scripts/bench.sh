#!/usr/bin/env bash
# Builds Shoal and runs every benchmark. Each bench/<name>/run.sh prints lines
# of the form `bench: <name> <value> <unit>`; this script only collects them.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
scripts/build.sh "$BUILD" >&2
if [ -x scripts/k8s-binaries.sh ]; then scripts/k8s-binaries.sh "$BUILD" >&2 || true; fi
BUILD_ABS=$(cd "$BUILD" && pwd)
mkdir -p "$BUILD_ABS/bench"
status=0
for runner in bench/*/run.sh; do
  [ -x "$runner" ] || continue
  echo "# $runner" >&2
  if ! "$runner" "$BUILD_ABS"; then
    echo "# $runner failed" >&2
    status=1
  fi
done
exit $status
