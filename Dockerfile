# alemtuzumab-cds container image (issue 15 §3). Multi-stage: build with cargo, run as a
# non-root user on a slim Debian base. Configuration at /etc/alemtuzumab-cds/config.toml (mount
# your own over the default), data volume /var/lib/alemtuzumab-cds, JSON logs on stdout,
# HEALTHCHECK on /healthz.
#
#   podman build -t alemtuzumab-cds .            # or docker build
#   podman run -p 8080:8080 -v ./config.toml:/etc/alemtuzumab-cds/config.toml:ro \
#       -v cds-data:/var/lib/alemtuzumab-cds alemtuzumab-cds
#
# Without a container registry (as scripts/package-test does): build the binary on a Debian 12
# host, import a debootstrapped Debian as the base and build the `prebuilt` target:
#   podman build --target prebuilt --build-arg BASE_IMAGE=localhost/debian:bookworm …

ARG RUST_IMAGE=docker.io/library/rust:1-slim-bookworm
ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin alemtuzumab-cds \
 && install -D -m 0755 target/release/alemtuzumab-cds /out/alemtuzumab-cds

FROM ${BASE_IMAGE} AS runtime-base
# CA certificates: the HTTPS clients (JWKS, FHIR servers, PostgreSQL TLS) refuse to start
# without a trust store, and the slim and debootstrap bases have none.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# A system user and group of their own; no shell, no home outside the data directory.
RUN groupadd --system alemtuzumab-cds \
 && useradd --system --gid alemtuzumab-cds --home-dir /var/lib/alemtuzumab-cds \
      --no-create-home --shell /usr/sbin/nologin alemtuzumab-cds \
 && install -d -o alemtuzumab-cds -g alemtuzumab-cds -m 0700 /var/lib/alemtuzumab-cds \
 && install -d -m 0755 /etc/alemtuzumab-cds
COPY packaging/container/config.toml /etc/alemtuzumab-cds/config.toml
ENV ALEMTUZUMAB_CDS_CONFIG=/etc/alemtuzumab-cds/config.toml
VOLUME ["/var/lib/alemtuzumab-cds"]
EXPOSE 8080
STOPSIGNAL SIGTERM
# bash's /dev/tcp: no HTTP client to install in the image. Plain HTTP inside the container (TLS
# is terminated by the reverse proxy, compose.yaml); sites serving HTTPS directly replace it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
USER alemtuzumab-cds:alemtuzumab-cds
WORKDIR /var/lib/alemtuzumab-cds
ENTRYPOINT ["/usr/bin/alemtuzumab-cds"]
CMD ["serve"]

# The binary built on the host (a Debian 12 glibc), for offline image builds.
FROM runtime-base AS prebuilt
COPY --chmod=0755 dist/alemtuzumab-cds /usr/bin/alemtuzumab-cds

# The default target: the binary built in the `build` stage.
FROM runtime-base AS runtime
COPY --from=build /out/alemtuzumab-cds /usr/bin/alemtuzumab-cds
