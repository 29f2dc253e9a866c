# shoal-worker image: a multi-stage build from the repository root.
#   docker build -f deploy/docker/shoal-worker.Dockerfile -t ghcr.io/shoal-dev/shoal-worker:0.1.0 .
# The build stage compiles only the shoal-worker target; the runtime stage is
# debian:bookworm-slim plus the shared libraries the binary loads (the list is
# checked against `ldd` by tests/unit/crds), running as an unprivileged user.

FROM debian:bookworm AS build
# Every -dev package the top-level CMakeLists.txt asks for (find_package is
# project-wide), and the compilers.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config ca-certificates \
      libcpp-httplib-dev libyaml-cpp-dev nlohmann-json3-dev prometheus-cpp-dev \
      libssl-dev libhiredis-dev libcli11-dev libspdlog-dev libfmt-dev \
      libpq-dev libpqxx-dev libsnappy-dev libprotobuf-dev protobuf-compiler \
      libsimdjson-dev zlib1g-dev libbrotli-dev libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY runtime runtime
COPY operator operator
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DSHOAL_TESTS=OFF -DSHOAL_BENCH=OFF \
 && cmake --build /build --target shoal-worker \
 && install -D -m 0755 "$(find /build -type f -name shoal-worker -perm -u+x | head -n1)" /out/shoal-worker \
 && strip --strip-unneeded /out/shoal-worker

FROM debian:bookworm-slim
# Runtime libraries of shoal-worker, one package per shared library it links
# directly (objdump -p: NEEDED): OpenSSL (Redis TLS, HTTPS sinks), cpp-httplib,
# yaml-cpp, prometheus-cpp core, hiredis (RESP parser), libpq (PostgreSQL
# sink), snappy (remote write), simdjson (log parsing). apt adds their own
# dependencies (zlib, brotli, Kerberos/LDAP for libpq). ca-certificates for TLS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libstdc++6 libssl3 libcpp-httplib0.11 libyaml-cpp0.7 \
      libprometheus-cpp-core1.0 libhiredis0.14 libpq5 libsnappy1v5 libsimdjson14 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/shoal-worker /usr/local/bin/shoal-worker
# 65532 is the conventional "nonroot" uid.
USER 65532:65532
EXPOSE 9100
ENTRYPOINT ["/usr/local/bin/shoal-worker"]
