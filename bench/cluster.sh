#!/usr/bin/env bash
# The local engine vs a local Ballista cluster on the same feature SQL and files (README
# "Scaling out").
#
#   bench/cluster.sh          the 10M dataset (~11M tracks rows; generated once under
#                             $BENCH_DIR, shared with bench/run.sh); writes bench/cluster.md
#   bench/cluster.sh --smoke  a tiny dataset: checks the harness and that both engines agree
#
# Environment: BENCH_DIR (default ~/.cache/pqlsync-bench), REPS (default 3),
# CARGO_TARGET_DIR (default ~/.cache/pqlsync-target).
set -euo pipefail
cd "$(dirname "$0")/.."
default_results=bench/cluster.md
smoke_results=cluster-smoke.md
# shellcheck source=bench/setup.sh
source bench/setup.sh "$@"
cargo build --release --locked --features ballista
run_bench bench/cluster.py
