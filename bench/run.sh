#!/usr/bin/env bash
# pqlsync vs DuckDB on the same feature SQL and the same files (see README "Performance").
#
#   bench/run.sh            the full benchmark: ~10M and ~50M tracks rows and a 365-day
#                           dataset (about 12 GB under $BENCH_DIR; an hour or more)
#   bench/run.sh --smoke    tiny datasets: checks the harness and that both sides agree
#
# Environment: BENCH_DIR (default ~/.cache/pqlsync-bench), REPS (default 3),
# CARGO_TARGET_DIR (default ~/.cache/pqlsync-target).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pqlsync-target}"
bench_dir="${BENCH_DIR:-$HOME/.cache/pqlsync-bench}"
scale=full
results=bench/results.md
if [ "${1:-}" = "--smoke" ]; then
  scale=smoke
  results="$bench_dir/results-smoke.md"
fi
mkdir -p "$bench_dir"

command -v /usr/bin/time >/dev/null || { echo "bench/run.sh needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
cargo build --release --locked
venv="$bench_dir/venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import duckdb" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "duckdb==2.0.0"
fi
exec "$venv/bin/python" bench/bench.py \
  --binary "$CARGO_TARGET_DIR/release/pqlsync" \
  --python "$venv/bin/python" \
  --dir "$bench_dir" \
  --reps "${REPS:-3}" \
  --scale "$scale" \
  --results "$results"
