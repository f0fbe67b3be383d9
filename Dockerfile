# The `temper` image: `docker build -t temper:0.1.0 .` from the repository root.
# Never built here (no Docker engine on the project's machines); see the
# README's "Kubernetes (Helm)" section.

# Build: the release binary of the gateway crate, which owns `temper`.
# cmake builds the bundled librdkafka; the Debian image has the C/C++
# compilers and zlib headers.
FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p temper-gateway --bin temper \
 && cp target/release/temper /usr/local/bin/temper

# Run: the same Debian release (glibc, zlib), CA certificates for TLS to
# Cassandra, and a non-root user whose id the Helm chart runs as.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 temper \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin temper \
 && mkdir -p /etc/temper /var/lib/temper \
 && chown temper:temper /var/lib/temper
COPY --from=build /usr/local/bin/temper /usr/local/bin/temper
USER 10001:10001
EXPOSE 7233 9090
ENTRYPOINT ["temper"]
CMD ["--help"]
