# syntax=docker/dockerfile:1
# pqlsync as a container image: a stripped release binary on distroless (glibc, CA
# certificates, no shell, user 65532). The same image runs the job and, built with
# --build-arg FEATURES=ballista, a Ballista scheduler or executor (`pqlsync cluster ...`).
#
#   docker build -t pqlsync .
#   docker build -t pqlsync:ballista --build-arg FEATURES=ballista .
#   docker run --rm -v "$PWD/pqlsync.toml:/etc/pqlsync/pqlsync.toml:ro" -e HUBSPOT_TOKEN \
#     pqlsync --config /etc/pqlsync/pqlsync.toml --log-format json run
#
# The build compiles DataFusion in release mode: 15-30 minutes on two cores. CI lints this
# file with hadolint but does not build it (no container daemon there); README "Container".

# The toolchain pqlsync is built and tested with (Cargo.toml's rust-version is the oldest
# that builds it).
ARG RUST_VERSION=1.95.0

FROM rust:${RUST_VERSION}-bookworm AS build
ARG FEATURES=""
WORKDIR /src
COPY . .
# Directories the non-root user writes to (outputs, a cluster executor's work dir) are made
# here: the runtime image has no shell to make them.
RUN cargo build --release --locked ${FEATURES:+--features "$FEATURES"} \
 && install -D target/release/pqlsync /out/pqlsync \
 && mkdir -p /out/writable/out /out/writable/work

# Debian 12, like the build image, so the binary finds the glibc it was linked against.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/pqlsync /usr/local/bin/pqlsync
COPY --from=build /src/sql /app/sql
COPY --from=build --chown=65532:65532 /out/writable/out /app/out
COPY --from=build --chown=65532:65532 /out/writable/work /work
WORKDIR /app
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/pqlsync"]
CMD ["--help"]
