# pqlsync as a container image. The same image runs the job, and (built with
# --build-arg FEATURES=ballista) a Ballista scheduler or executor: `pqlsync cluster ...`.
#
#   docker build -t pqlsync .                                   # the job
#   docker build -t pqlsync:ballista --build-arg FEATURES=ballista .
#
# The build compiles DataFusion in release mode: 15-30 minutes on two cores.
FROM rust:1.95-bookworm AS build
ARG FEATURES=""
WORKDIR /src
COPY . .
RUN cargo build --release --locked ${FEATURES:+--features "$FEATURES"} \
 && cp target/release/pqlsync /usr/local/bin/pqlsync

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home pqlsync
COPY --from=build /usr/local/bin/pqlsync /usr/local/bin/pqlsync
COPY sql /app/sql
USER pqlsync
WORKDIR /app
ENTRYPOINT ["pqlsync"]
CMD ["--help"]
