# Shared by bench/run.sh and bench/cluster.sh (sourced, with the repository as the working
# directory): the target and bench directories, /usr/bin/time, and a venv with DuckDB.
# SETS=10M,50M limits a run to those datasets.
# Sets: CARGO_TARGET_DIR, bench_dir, scale, results (from $default_results, or the smoke
# file $smoke_results under bench_dir for --smoke), venv; `run_bench SCRIPT` then runs a
# benchmark driver with the release binary and those settings.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pqlsync-target}"
bench_dir="${BENCH_DIR:-$HOME/.cache/pqlsync-bench}"
scale=full
results="$default_results"
if [ "${1:-}" = "--smoke" ]; then
  scale=smoke
  results="$bench_dir/$smoke_results"
fi
mkdir -p "$bench_dir"
command -v /usr/bin/time >/dev/null || { echo "$0 needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
venv="$bench_dir/venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import duckdb" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "duckdb==2.0.0"
fi

run_bench() {
  exec "$venv/bin/python" "$1" \
    --binary "$CARGO_TARGET_DIR/release/pqlsync" \
    --python "$venv/bin/python" \
    --dir "$bench_dir" \
    --reps "${REPS:-3}" \
    --scale "$scale" \
    --results "$results" \
    ${SETS:+--sets "$SETS"}
}
