# shoal-worker image: a multi-stage build from the repository root.
#   docker build -f deploy/docker/shoal-worker.Dockerfile -t ghcr.io/shoal-dev/shoal-worker:0.1.0 .
# The same image as `make images` (scripts/images.sh) builds without a
# container engine: the build stage compiles only the shoal-worker target; the
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
 && cmake --build /build --target shoal-worker \
 && install -D -m 0755 "$(find /build -type f -name shoal-worker -perm -u+x | head -n1)" /out/shoal-worker \
 && strip --strip-unneeded /out/shoal-worker

FROM debian:bookworm-slim AS rootfs
# Runtime libraries of shoal-worker, one package per shared library it links
# directly (objdump -p: NEEDED): OpenSSL (Redis TLS, HTTPS sinks), cpp-httplib,
# yaml-cpp, prometheus-cpp core, hiredis (RESP parser), libpq (PostgreSQL
# sink), snappy (remote write), simdjson (log parsing), zlib (gzip bulk
# bodies). apt adds their own dependencies (brotli, Kerberos/LDAP for libpq).
# ca-certificates for TLS; python3 runs the staging step (it stays in this stage).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libstdc++6 libssl3 libcpp-httplib0.11 libyaml-cpp0.7 \
      libprometheus-cpp-core1.0 libhiredis0.14 libpq5 libsnappy1v5 libsimdjson14 zlib1g \
      python3 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/shoal-worker /out/shoal-worker
COPY scripts/oci_image.py /usr/local/lib/shoal/oci_image.py
RUN python3 /usr/local/lib/shoal/oci_image.py rootfs /rootfs --binary /out/shoal-worker

FROM scratch
COPY --from=rootfs /rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# 65532 is the conventional "nonroot" uid (in the image's /etc/passwd); the
# chart's securityContext matches.
USER 65532:65532
EXPOSE 9100
ENTRYPOINT ["/usr/local/bin/shoal-worker"]
