#!/usr/bin/env bash
# Builds and runs every test tier with ctest. Each test starts the real servers
# it needs (redis-server, Prometheus, the Pushgateway, PostgreSQL, etcd and the
# Kubernetes control plane) on free loopback ports and stops exactly what it
# started, also on failure. Extra arguments go to ctest (for example -L unit).
# With SHOAL_SANITIZE=ON (make test-sanitize) the build is ASan+UBSan and every
# sanitizer report, also from child processes, fails the run (see below).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
shift || true
SANITIZE=${SHOAL_SANITIZE:-OFF}
if [ "$SANITIZE" = ON ] && [ -z "${KUBEBUILDER_ASSETS:-}" ] && [ "$BUILD" != build ] &&
   [ -x build/k8s-bin/kube-apiserver ]; then
  # The control-plane binaries are Go programs, not sanitized: reuse the
  # default build's instead of building them again.
  export KUBEBUILDER_ASSETS="$(pwd)/build/k8s-bin"
fi
scripts/build.sh "$BUILD"
if [ -x scripts/k8s-binaries.sh ]; then
  # The real kube-apiserver, kube-controller-manager, kube-scheduler and helm,
  # built once from their Go modules and cached in the build directory.
  scripts/k8s-binaries.sh "$BUILD"
fi
REPORTS=
if [ "$SANITIZE" = ON ]; then
  # Tests start shoal-worker and shoal-operator as children and often send
  # their stderr to a temporary file that is deleted with the test, so a
  # report printed there would be lost. Every sanitized process writes its
  # report to $REPORTS/report.<exe>.<pid> instead; any such file fails the run.
  # Options given in the environment come last and so take precedence.
  REPORTS="$(cd "$BUILD" && pwd)/sanitizer-reports"
  rm -rf "$REPORTS"
  mkdir -p "$REPORTS"
  chmod 1777 "$REPORTS"
  log="log_path=$REPORTS/report:log_exe_name=1"
  export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:check_initialization_order=1:$log${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:$log${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
  export LSAN_OPTIONS="$log${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
fi
status=0
LOG="$(cd "$BUILD" && pwd)/ctest-output.log"
(cd "$BUILD" && ctest --output-on-failure --timeout 900 -j "${CTEST_JOBS:-2}" "$@") 2>&1 |
  tee "$LOG" || status=1
# A test whose server or binary is missing skips (GTEST_SKIP; ctest shows it
# as Skipped, see shoal_add_test). On a machine set up by install-deps.sh
# nothing skips, so a skip means a tier did not run: that fails the run
# unless SHOAL_ALLOW_SKIPS=1 says a partial run is what is wanted.
skipped=$(grep -E '\(Skipped\)\s*$' "$LOG" | sort -u || true)
if [ -n "$skipped" ]; then
  echo "test: skipped (a server or binary they need is missing; scripts/install-deps.sh installs it):" >&2
  echo "$skipped" >&2
  if [ "${SHOAL_ALLOW_SKIPS:-0}" != 1 ]; then
    echo "test: failing because tests skipped (SHOAL_ALLOW_SKIPS=1 accepts a partial run)" >&2
    status=1
  fi
fi
if [ -n "$REPORTS" ]; then
  shopt -s nullglob
  reports=("$REPORTS"/report.*)
  if [ ${#reports[@]} -gt 0 ]; then
    for r in "${reports[@]}"; do
      echo "=== sanitizer report: $(basename "$r") ==="
      cat "$r"
    done
    echo "test-sanitize: ${#reports[@]} sanitizer report(s) in $REPORTS" >&2
    status=1
  else
    echo "test-sanitize: no sanitizer reports"
  fi
fi
# The fuzz tier: every libFuzzer target for a short, fixed number of runs over
# its seed corpus (clang build in $BUILD/fuzz). `make fuzz` runs them longer.
if [ $# -eq 0 ] && [ "${SHOAL_SKIP_FUZZ:-0}" != 1 ]; then
  scripts/fuzz.sh --short "$BUILD" || status=1
fi
exit $status
