# shoal-operator image: a multi-stage build from the repository root.
#   docker build -f deploy/docker/shoal-operator.Dockerfile -t ghcr.io/shoal-dev/shoal-operator:0.1.0 .
# The same image as `make images` (scripts/images.sh) builds without a
# container engine: the build stage compiles only the shoal-operator target; the
# rootfs stage installs its runtime packages and runs the same staging step
# (scripts/oci_image.py rootfs: the binary, exactly the shared libraries ldd
# resolves for it, CA certificates, user 65532 "nonroot", no shell); the
# final image is that root filesystem alone. Same contents, not the same
# digest (layer timestamps and history differ).

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

FROM debian:bookworm-slim AS rootfs
# Runtime libraries of shoal-operator, one package per shared library it links
# directly (objdump -p: NEEDED): cpp-httplib, OpenSSL, yaml-cpp, prometheus-cpp
# core and pull (with its civetweb server), hiredis (the RESP parser of the
# backlog probe). apt adds their own dependencies (zlib, brotli).
# ca-certificates for TLS; python3 runs the staging step (it stays in this stage).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libstdc++6 libssl3 libcpp-httplib0.11 libyaml-cpp0.7 \
      libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libcivetweb1 libhiredis0.14 \
      python3 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/shoal-operator /out/shoal-operator
COPY scripts/oci_image.py /usr/local/lib/shoal/oci_image.py
RUN python3 /usr/local/lib/shoal/oci_image.py rootfs /rootfs --binary /out/shoal-operator

FROM scratch
COPY --from=rootfs /rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# 65532 is the conventional "nonroot" uid (in the image's /etc/passwd); the
# chart's securityContext matches.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/shoal-operator"]
