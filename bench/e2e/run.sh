#!/usr/bin/env bash
# End-to-end burst benchmark on a real control plane: runs the Burst story of
# tests/e2e/burst (etcd, kube-apiserver, controller-manager, scheduler,
# shoal-node-agent as the kubelet, shoal-operator installed with `helm install`
# of charts/shoal and run as the chart's pod, Redis, shoal-bulk-server) for
# a fixed burst of 20,000 ~200-byte JSON logs, minReplicas 1, maxReplicas 4,
# drainTime 5 s. Prints:
#   bench: e2e_burst_drain_s <N> s         first XADD -> every entry in the sink
#   bench: e2e_replica_seconds <N> replica_s   sum of Deployment replicas x time,
#                                             from the burst until back at 1
# Usage: bench/e2e/run.sh <build-dir>. Prints a `#` line and exits 0 when the
# binaries are missing (scripts/k8s-binaries.sh, e2e_burst_test and Shoal's)
# or the story cannot run here (it needs root for the operator pod's mount
# namespace).
set -euo pipefail
BUILD=${1:?usage: run.sh <build-dir>}
BUILD=$(cd "$BUILD" && pwd)
TEST="$BUILD/tests/e2e/burst/e2e_burst_test"
if [[ ! -x "$TEST" ]]; then
  echo "# e2e bench skipped: $TEST not built"
  exit 0
fi
for b in kube-apiserver kube-controller-manager kube-scheduler helm; do
  if [[ ! -x "${KUBEBUILDER_ASSETS:-$BUILD/k8s-bin}/$b" ]]; then
    echo "# e2e bench skipped: $b missing (run scripts/k8s-binaries.sh)"
    exit 0
  fi
done
OUT=$(mktemp /tmp/shoal-e2e-bench.XXXXXX)
LOG=$(mktemp /tmp/shoal-e2e-bench-log.XXXXXX)
trap 'rm -f "$OUT" "$LOG"' EXIT
if ! SHOAL_E2E_BENCH_OUT="$OUT" "$TEST" --gtest_filter='*Burst*' >"$LOG" 2>&1; then
  echo "# e2e bench: the burst run failed; last lines:" >&2
  tail -40 "$LOG" >&2
  exit 1
fi
if grep -q '\[  SKIPPED \]' "$LOG"; then
  echo "# e2e bench skipped: $(grep -m1 -iE 'missing|unavailable' "$LOG" || echo 'see e2e_burst_test')"
  exit 0
fi
cat "$OUT"
