#!/usr/bin/env bash
# Builds the real KEDA (operator and metrics API server, the "adapter") from
# its Go module github.com/kedacore/keda/v2 into <build-dir>/keda-bin, with
# KEDA's CRDs beside them (keda-bin/crd). Only `make bench-keda` needs it; it
# is not part of `make test`. Idempotent: nothing is rebuilt while the
# binaries of the wanted version are there. The module's go.mod carries
# replace/exclude directives, so `go install pkg@version` refuses it: the
# module source is taken from the module cache (`go mod download`), copied to
# <build-dir>/keda-src/<version> (the cache is read-only) and built there.
# The seconds a cold build took are kept in keda-bin/build-seconds (the bench
# prints them).
#
# Usage: scripts/keda-binaries.sh <build-dir>
# KEDA_VERSION picks the release (default below: the newest one the
# installed Go 1.26 builds; v2.21.1 requires go >= 1.27.4).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
VERSION=${KEDA_VERSION:-v2.21.0}
MODULE=github.com/kedacore/keda/v2
OUT="$BUILD/keda-bin"
SRC="$BUILD/keda-src/$VERSION"
mkdir -p "$OUT"

if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="$PATH:/usr/local/go/bin"
fi
if ! command -v go >/dev/null 2>&1; then
  echo "keda-binaries: go not found; the KEDA bench cannot run" >&2
  exit 1
fi

if [ -x "$OUT/keda-operator" ] && [ -x "$OUT/keda-adapter" ] && [ -f "$OUT/crd/keda.sh_scaledobjects.yaml" ] \
    && [ "$(cat "$OUT/version" 2>/dev/null || true)" = "$VERSION" ]; then
  echo "keda-binaries: KEDA $VERSION is current (cold build took $(cat "$OUT/build-seconds" 2>/dev/null || echo '?') s)"
  exit 0
fi

start=$(date +%s)
echo "keda-binaries: building KEDA $VERSION operator and adapter (long the first time: the module has hundreds of dependencies)..."
# An empty module directory keeps `go mod download` away from any go.mod of ours.
dl="$BUILD/keda-src/.download"
mkdir -p "$dl"
dir=$(cd "$dl" && GOFLAGS=-mod=mod GOTOOLCHAIN=local go mod download -json "$MODULE@$VERSION" \
      | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [ -z "$dir" ] || [ ! -f "$dir/go.mod" ]; then
  echo "keda-binaries: FAILED to download $MODULE@$VERSION" >&2
  exit 1
fi
if [ ! -f "$SRC/go.mod" ]; then
  rm -rf "$SRC.tmp"
  mkdir -p "$(dirname "$SRC")"
  cp -r "$dir" "$SRC.tmp"
  chmod -R u+w "$SRC.tmp"
  mv "$SRC.tmp" "$SRC"
fi

status=0
for pair in operator:keda-operator adapter:keda-adapter; do
  cmd=${pair%%:*}
  bin=${pair#*:}
  tmp="$OUT/$bin.tmp.$$"
  echo "keda-binaries: go build ./cmd/$cmd"
  if (cd "$SRC" && GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0 GOMAXPROCS=${GOMAXPROCS:-1} \
        nice -n 19 go build -p 1 -trimpath -ldflags="-s -w -X $MODULE/version.Version=$VERSION" \
        -o "$tmp" "./cmd/$cmd"); then
    mv -f "$tmp" "$OUT/$bin"
  else
    rm -f "$tmp"
    echo "keda-binaries: FAILED to build $bin" >&2
    status=1
  fi
done
[ $status -eq 0 ] || exit $status

rm -rf "$OUT/crd"
cp -r "$SRC/config/crd/bases" "$OUT/crd"
chmod -R u+w "$OUT/crd"
secs=$(( $(date +%s) - start ))
echo "$secs" > "$OUT/build-seconds"
echo "$VERSION" > "$OUT/version"
echo "keda-binaries: built KEDA $VERSION in $secs s (operator $(du -h "$OUT/keda-operator" | cut -f1), adapter $(du -h "$OUT/keda-adapter" | cut -f1))"
