# shoal-operator image: a multi-stage build from the repository root.
#   docker build -f deploy/docker/shoal-operator.Dockerfile -t ghcr.io/shoal-dev/shoal-operator:0.1.0 .
# The build stage compiles only the shoal-operator target; the runtime stage is
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
 && cmake --build /build --target shoal-operator \
 && install -D -m 0755 "$(find /build -type f -name shoal-operator -perm -u+x | head -n1)" /out/shoal-operator \
 && strip --strip-unneeded /out/shoal-operator

FROM debian:bookworm-slim
# Runtime libraries of shoal-operator, one package per shared library it links
# directly (objdump -p: NEEDED): cpp-httplib, OpenSSL, yaml-cpp, prometheus-cpp
# core and pull (with its civetweb server), hiredis (the RESP parser of the
# backlog probe). apt adds their own dependencies (zlib, brotli).
# ca-certificates for TLS to the API server and Redis.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libstdc++6 libssl3 libcpp-httplib0.11 libyaml-cpp0.7 \
      libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libcivetweb1 libhiredis0.14 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/shoal-operator /usr/local/bin/shoal-operator
# 65532 is the conventional "nonroot" uid; the chart's securityContext matches.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/shoal-operator"]
