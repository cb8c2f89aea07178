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
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pqlsync-target}"
bench_dir="${BENCH_DIR:-$HOME/.cache/pqlsync-bench}"
scale=full
results=bench/cluster.md
if [ "${1:-}" = "--smoke" ]; then
  scale=smoke
  results="$bench_dir/cluster-smoke.md"
fi
mkdir -p "$bench_dir"
command -v /usr/bin/time >/dev/null || { echo "bench/cluster.sh needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
cargo build --release --locked --features ballista
venv="$bench_dir/venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import duckdb" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "duckdb==2.0.0"
fi
exec "$venv/bin/python" bench/cluster.py \
  --binary "$CARGO_TARGET_DIR/release/pqlsync" \
  --python "$venv/bin/python" \
  --dir "$bench_dir" \
  --reps "${REPS:-3}" \
  --scale "$scale" \
  --results "$results"
