#!/usr/bin/env bash
# Builds the shoal-operator and shoal-worker container images without a
# container engine or a registry: for each binary, a minimal root filesystem
# (the binary, exactly the Debian shared libraries it loads, CA certificates,
# user 65532 "nonroot", no shell) written as an OCI image archive
# (scripts/oci_image.py). deploy/docker/*.Dockerfile describe the same images.
#
#   scripts/images.sh [--no-build] [BUILD [OUT]]
#
# BUILD is the CMake build directory (default build); OUT the output directory
# (default BUILD/images), which receives <image>.oci.tar and <image>.digest.
# Without --no-build the two targets are configured and built first.
# $SHOAL_OPERATOR_BINARY and $SHOAL_WORKER_BINARY override where the binaries
# are (the test passes CMake's paths). Names:
# $SHOAL_IMAGE_REGISTRY/<image>:$SHOAL_IMAGE_TAG, by default ghcr.io/shoal-dev
# and the project version (the chart's defaults). SOURCE_DATE_EPOCH fixes
# every timestamp (default: the last commit's time), so the same binaries give
# the same digests (the revision label is the commit, so a new commit gives
# new digests).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_FIRST=1
if [ "${1:-}" = --no-build ]; then
  BUILD_FIRST=0
  shift
fi
BUILD=${1:-build}
OUT=${2:-$BUILD/images}
REGISTRY=${SHOAL_IMAGE_REGISTRY:-ghcr.io/shoal-dev}
VERSION=$(sed -n 's/^project(shoal VERSION \([0-9][0-9.]*\).*/\1/p' CMakeLists.txt)
TAG=${SHOAL_IMAGE_TAG:-$VERSION}
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0)
fi
REVISION=$(git rev-parse HEAD 2>/dev/null || true)
SOURCE=https://github.com/shoal-dev/shoal

start=$(date +%s%N)
if [ "$BUILD_FIRST" = 1 ]; then
  if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo} >/dev/null
  fi
  cmake --build "$BUILD" --target shoal-operator shoal-worker -j "${JOBS:-$(nproc)}"
fi

mkdir -p "$OUT"
STAGE=$(mktemp -d "$OUT/.rootfs.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT

# image  binary  ports  description
IMAGES=(
  "shoal-operator|${SHOAL_OPERATOR_BINARY:-$BUILD/operator/cmd/shoal-operator}|8080 8081|Runs Shoal Pipelines and WorkerPools on Kubernetes and scales workers on backlog"
  "shoal-worker|${SHOAL_WORKER_BINARY:-$BUILD/runtime/worker/shoal-worker}|9100|Consumes a Redis stream through a consumer group and delivers it to a sink"
)
for spec in "${IMAGES[@]}"; do
  IFS='|' read -r name binary ports description <<<"$spec"
  if [ ! -x "$binary" ]; then
    echo "images: $binary is not built (run without --no-build)" >&2
    exit 1
  fi
  packages=$(python3 scripts/oci_image.py rootfs "$STAGE/$name" --binary "$binary" --strip)
  args=(--out "$OUT/$name.oci.tar" --repository "$REGISTRY/$name" --tag "$TAG"
        --entrypoint "/usr/local/bin/$name" --user 65532:65532 --epoch "$SOURCE_DATE_EPOCH"
        --label "org.opencontainers.image.title=$name"
        --label "org.opencontainers.image.description=$description"
        --label "org.opencontainers.image.source=$SOURCE"
        --label "org.opencontainers.image.licenses=Apache-2.0"
        --label "dev.shoal.debian-packages=$packages")
  [ -n "$REVISION" ] && args+=(--label "org.opencontainers.image.revision=$REVISION")
  for p in $ports; do args+=(--port "$p"); done
  read -r digest ref size file < <(python3 scripts/oci_image.py pack "$STAGE/$name" "${args[@]}")
  echo "$digest" >"$OUT/$name.digest"
  printf 'images: %-15s %s %s %s MB %s\n' "$name" "$ref" "$digest" \
    "$(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }')" "$file"
  rm -rf "${STAGE:?}/$name"
done
end=$(date +%s%N)
echo "images: done in $(awk -v ns=$((end - start)) 'BEGIN { printf "%.1f", ns / 1e9 }') s" \
  "(load: skopeo copy oci-archive:FILE docker://REGISTRY/NAME:TAG, or ctr -n k8s.io images import FILE; see deploy/README.md)"
