#!/usr/bin/env bash
# The real KEDA against Shoal's operator (bench/keda/keda_bench.cpp): builds
# KEDA (scripts/keda-binaries.sh, cached in <build>/keda-bin) and the
# Kubernetes binaries if needed, then keda_bench and the binaries it runs,
# then runs it. Prints `bench: keda_real_*`, `bench: shoal_real_*` and the
# ratios. Long: KEDA's default cooldown is 300 s, so each KEDA run takes
# about six minutes. Not part of `make bench` (no run.sh here) nor `make test`.
# Usage: bench/keda/bench-keda.sh <build-dir> [keda_bench args...]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:?usage: bench-keda.sh <build-dir> [keda_bench args]}
shift
scripts/keda-binaries.sh "$BUILD" >&2
scripts/k8s-binaries.sh "$BUILD" kube-apiserver kube-controller-manager kube-scheduler >&2
cmake --build "$BUILD" --target keda_bench -j "${JOBS:-2}" >&2
BUILD=$(cd "$BUILD" && pwd)
exec "$BUILD/bench/keda/keda_bench" --out-dir "$BUILD/bench/keda" "$@"
