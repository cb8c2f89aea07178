#!/usr/bin/env bash
# pqlsync vs DuckDB on the same feature SQL and the same files (see README "Performance").
#
#   bench/run.sh            the full benchmark: ~10M and ~50M tracks rows and a 365-day
#                           dataset (about 12 GB under $BENCH_DIR; an hour or more)
#   bench/run.sh --smoke    tiny datasets: checks the harness and that both sides agree
#
# Environment: BENCH_DIR (default ~/.cache/pqlsync-bench), REPS (default 3), SETS (e.g.
# 10M,50M: only those datasets), CARGO_TARGET_DIR (default ~/.cache/pqlsync-target).
set -euo pipefail
cd "$(dirname "$0")/.."
default_results=bench/results.md
smoke_results=results-smoke.md
# shellcheck source=bench/setup.sh
source bench/setup.sh "$@"
cargo build --release --locked
run_bench bench/bench.py
