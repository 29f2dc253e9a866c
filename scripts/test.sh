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
cd "$BUILD"
ctest --output-on-failure --timeout 900 -j "${CTEST_JOBS:-2}" "$@"
