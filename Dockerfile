# syntax=docker/dockerfile:1
# One image with every herald binary: herald-exporter, herald-ruler and herald.
#   docker build -t herald .
# Build stage: the Rust toolchain (buildpack-deps based, so gcc, make and zlib headers for
# the bundled librdkafka are present). No protoc is needed: the gRPC code is committed.
ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src
ENV CARGO_TERM_COLOR=never \
    CARGO_PROFILE_RELEASE_DEBUG=line-tables-only
COPY . .
# The target directory is a cache mount, so the binaries are copied out in the same step.
# herald-ruler is built on its own with the `hooks` feature (Starlark receiver hooks): the
# interpreter turns on serde_json's `arbitrary_precision`, which would otherwise change
# JSON number parsing in the exporter too.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p herald-exporter -p herald-cli \
    && cargo build --release --locked -p herald-ruler --features hooks --target-dir target/hooks \
    && mkdir -p /out \
    && cp target/release/herald-exporter target/hooks/release/herald-ruler target/release/herald /out/

# Runtime stage: glibc, libgcc, zlib and CA certificates for TLS sinks; nothing else.
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# ca-certificates is left unpinned on purpose: it must follow Debian's security updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 65532 herald \
    && useradd --system --uid 65532 --gid 65532 --home-dir /var/lib/herald --no-create-home --shell /usr/sbin/nologin herald \
    && mkdir -p /etc/herald /var/lib/herald \
    && chown 65532:65532 /var/lib/herald
COPY --from=build /out/herald-exporter /out/herald-ruler /out/herald /usr/local/bin/
# Fail the build if a binary needs a shared library the runtime image lacks.
RUN for bin in herald-exporter herald-ruler herald; do \
        if ldd "/usr/local/bin/${bin}" | grep -q 'not found'; then ldd "/usr/local/bin/${bin}"; exit 1; fi; \
    done
LABEL org.opencontainers.image.title="herald" \
      org.opencontainers.image.description="Kubernetes Events exporter: herald-exporter, herald-ruler and herald" \
      org.opencontainers.image.source="https://github.com/herald-dev/herald" \
      org.opencontainers.image.licenses="Apache-2.0"
# The durable log lives here (mount a volume); the config is read from /etc/herald.
WORKDIR /var/lib/herald
USER 65532:65532
EXPOSE 50051 2112
CMD ["herald-exporter", "--config", "/etc/herald/config.yaml", "--data-dir", "/var/lib/herald"]
