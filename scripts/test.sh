#!/usr/bin/env bash
# Builds and runs every test tier with ctest. Each test starts the real servers
# it needs (redis-server, Prometheus, the Pushgateway, PostgreSQL, etcd and the
# Kubernetes control plane) on free loopback ports and stops exactly what it
# started, also on failure. Extra arguments go to ctest (for example -L unit).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
shift || true
scripts/build.sh "$BUILD"
if [ -x scripts/k8s-binaries.sh ]; then
  # The real kube-apiserver, kube-controller-manager, kube-scheduler and helm,
  # built once from their Go modules and cached in the build directory.
  scripts/k8s-binaries.sh "$BUILD"
fi
status=0
(cd "$BUILD" && ctest --output-on-failure --timeout 900 -j "${CTEST_JOBS:-2}" "$@") || status=1
# The fuzz tier: every libFuzzer target for a short, fixed number of runs over
# its seed corpus (clang build in $BUILD/fuzz). `make fuzz` runs them longer.
if [ $# -eq 0 ] && [ "${SHOAL_SKIP_FUZZ:-0}" != 1 ]; then
  scripts/fuzz.sh --short "$BUILD" || status=1
fi
exit $status
