#!/usr/bin/env bash
# Builds the real Kubernetes control-plane binaries (kube-apiserver,
# kube-controller-manager, kube-scheduler) and helm from their Go modules
# (tests/tools/k8s and tests/tools/k8s/helm) into <build-dir>/k8s-bin, where
# the k8s-labelled tests find them. Idempotent: a binary is rebuilt only when
# its go.mod/go.sum changed since it was built. If KUBEBUILDER_ASSETS names a
# directory that already holds a binary, that binary is linked instead.
#
# Usage: scripts/k8s-binaries.sh <build-dir> [binary...]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${1:-build}
shift || true
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
OUT="$BUILD/k8s-bin"
mkdir -p "$OUT"

WANTED=("$@")
if [ ${#WANTED[@]} -eq 0 ]; then
  WANTED=(kube-apiserver kube-controller-manager kube-scheduler helm)
fi

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="$PATH:/usr/local/go/bin"
fi
if ! command -v go >/dev/null 2>&1; then
  echo "k8s-binaries: go not found; the k8s tests will skip (make test then fails unless SHOAL_ALLOW_SKIPS=1)" >&2
  exit 0
fi

# module dir and package for each binary
module_of() {
  case "$1" in
    helm) echo "$ROOT/tests/tools/k8s/helm" ;;
    *) echo "$ROOT/tests/tools/k8s" ;;
  esac
}
package_of() {
  case "$1" in
    helm) echo "helm.sh/helm/v3/cmd/helm" ;;
    *) echo "k8s.io/kubernetes/cmd/$1" ;;
  esac
}

status=0
for bin in "${WANTED[@]}"; do
  dest="$OUT/$bin"
  if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/$bin" ]; then
    if [ "$(readlink "$dest" 2>/dev/null || true)" != "$KUBEBUILDER_ASSETS/$bin" ]; then
      ln -sfn "$KUBEBUILDER_ASSETS/$bin" "$dest"
    fi
    echo "k8s-binaries: $bin -> $KUBEBUILDER_ASSETS/$bin (KUBEBUILDER_ASSETS)"
    continue
  fi
  mod=$(module_of "$bin")
  stamp="$OUT/.$bin.stamp"
  want=$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -d' ' -f1)
  if [ -x "$dest" ] && [ ! -L "$dest" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "k8s-binaries: $bin is current"
    continue
  fi
  echo "k8s-binaries: building $bin from $(package_of "$bin") (several minutes the first time)..."
  start=$(date +%s)
  tmp="$dest.tmp.$$"
  if (cd "$mod" && GOFLAGS=-mod=mod GOTOOLCHAIN=local GONOSUMDB=k8s.io CGO_ENABLED=0 \
        nice -n 10 go build -p 1 -trimpath -ldflags='-s -w' -o "$tmp" "$(package_of "$bin")"); then
    mv -f "$tmp" "$dest"
    echo "$want" > "$stamp"
    echo "k8s-binaries: built $bin in $(( $(date +%s) - start )) s ($(du -h "$dest" | cut -f1))"
  else
    rm -f "$tmp"
    echo "k8s-binaries: FAILED to build $bin" >&2
    status=1
  fi
done
exit $status
