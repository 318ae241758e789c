# syntax=docker/dockerfile:1
#
# Multi-stage build of the `identity` binary.
#
#   docker build -t identity .
#   docker run --rm -p 8080:8080 -e IDENTITY_SECRET=... -e IDENTITY_DATABASE_URL=... identity
#
# The builder must be at least the Rust version that Cargo.lock needs (some
# locked dependencies need a newer rustc than the workspace's `rust-version`),
# and on the same Debian release as the runtime image, so that the binary
# links against the same glibc.

ARG RUST_IMAGE=rust:1.95-bookworm

# --- chef: a Rust toolchain with cargo-chef --------------------------------
FROM ${RUST_IMAGE} AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /app
ENV CARGO_TERM_COLOR=never

# --- planner: reduce the workspace to its manifests (recipe.json) ----------
# The recipe changes only when a Cargo.toml or Cargo.lock changes, so the
# dependency layer below is rebuilt only then, not on every source edit.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# --- builder: dependencies first, then the service ------------------------
FROM chef AS builder
# sqlx's compile-time checked queries, if any, are checked against the
# committed `.sqlx/` metadata: no database is reachable during the build.
ENV SQLX_OFFLINE=true
COPY --from=planner /app/recipe.json recipe.json
RUN cargo chef cook --release --locked -p identity --recipe-path recipe.json
# The whole tree, including migrations/: `sqlx::migrate!` embeds the SQL in
# the binary at compile time, so the runtime image needs no migrations/.
COPY . .
RUN cargo build --release --locked -p identity

# --- runtime: the binary, CA certificates and an unprivileged user --------
FROM debian:bookworm-slim AS runtime

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# A fixed uid/gid, so that volumes and orchestrator policies can name it.
# IDENTITY_DATA_DIR holds secret.key when IDENTITY_SECRET is unset: 0700.
RUN groupadd --gid 10001 identity \
    && useradd --uid 10001 --gid identity --no-create-home \
        --home-dir /var/lib/identity --shell /usr/sbin/nologin identity \
    && mkdir -p /var/lib/identity \
    && chown identity:identity /var/lib/identity \
    && chmod 0700 /var/lib/identity

COPY --from=builder /app/target/release/identity /usr/local/bin/identity

ENV IDENTITY_LISTEN_ADDR=0.0.0.0:8080 \
    IDENTITY_DATA_DIR=/var/lib/identity

# Declared after the chown above: a new named volume starts as a copy of
# this directory, owned by identity.
VOLUME ["/var/lib/identity"]
EXPOSE 8080
USER identity

# No HEALTHCHECK: the image has no curl, wget or shell tool to probe HTTP
# with. Probe the service's HTTP health endpoints from outside instead (a load
# balancer, Kubernetes liveness/readiness probes, or curl on the host; see
# compose.yaml).

ENTRYPOINT ["identity"]
CMD ["serve"]
