#!/usr/bin/env bash
# Installs every Debian package that building, testing, benchmarking and the
# demo need. Idempotent: when everything is present it installs nothing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates curl openssl
  clang libclang-rt-14-dev
  libcpp-httplib-dev libyaml-cpp-dev nlohmann-json3-dev prometheus-cpp-dev
  libssl-dev libhiredis-dev libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libspdlog-dev libfmt-dev libpq-dev libpqxx-dev postgresql
  libsnappy-dev libprotobuf-dev protobuf-compiler libsimdjson-dev zlib1g-dev
  libbrotli-dev
  redis-server redis-tools prometheus prometheus-pushgateway etcd-server
  python3 procps iproute2 psmisc bsdutils
  umoci runc containerd
  openjdk-17-jdk-headless maven
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Debian starts some services on install where it can (containerd where systemd
# runs); tests start their own.
for svc in redis-server prometheus prometheus-pushgateway etcd postgresql containerd; do
  $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
