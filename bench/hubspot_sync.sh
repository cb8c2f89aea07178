#!/usr/bin/env bash
# Sync throughput against the local sandbox: a first sync of N demo accounts into an empty
# portal, then a sync where every record changes (the scoring weights move), both at a rate
# limit of R requests per 10 s on both sides. Prints records per 10 s against the ceiling of
# R x 100 (every request a full batch of 100).
#
#   bench/hubspot_sync.sh [ACCOUNTS=10000] [R=100]
#
# CHANGES=false turns the change log off ([changes] enabled), to measure what it costs; each
# sync prints the change log's entries and bytes and the state directory's size. With the log
# on, a third step reverts the update sync (`pqlsync revert`) and prints what that cost.
# ACTIVITY scales the demo events per user (the 10M benchmark's 24,000 accounts use 2.3).
#
# Needs a release build: cargo build --release (binary from $CARGO_TARGET_DIR or target/).
set -euo pipefail
accounts=${1:-10000}
rate=${2:-100}
changes=${CHANGES:-true}
activity=${ACTIVITY:-1.0}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${PQLSYNC_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/pqlsync}
work=$(mktemp -d)
trap 'kill $sandbox_pid 2>/dev/null || true; rm -rf "$work"' EXIT

cp -r "$root/sql" "$work/"
# The shipped config has a [hubspot] table already: the rate goes into it.
sed -e "s#fixtures/demo#data#" -e "s#^\[hubspot\]\$#[hubspot]\nrequests_per_10s = $rate#" \
  "$root/pqlsync.toml" > "$work/pqlsync.toml"
printf '\n[changes]\nenabled = %s\n' "$changes" >> "$work/pqlsync.toml"
cd "$work"
"$bin" demo-data --out data --accounts "$accounts" --days 30 --as-of 2026-11-20 \
  --activity "$activity" --quiet

"$bin" sandbox --port 0 --requests-per-10s "$rate" --quiet > sandbox.out &
sandbox_pid=$!
for _ in $(seq 50); do [ -s sandbox.out ] && break; sleep 0.1; done
export HUBSPOT_BASE_URL=$(awk '{print $3}' sandbox.out) HUBSPOT_TOKEN=sandbox-token
"$bin" hubspot setup --create-pipelines --quiet
sleep 11 # let setup's requests leave the rate-limit window

report() {
  python3 - "$1" "$rate" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["sync"]
rate = int(sys.argv[2])
records = sum(o["created"] + o["updated"] for o in s["objects"].values() if "created" in o)
links = s["associations"]["created"]
secs = s["seconds"]
per10 = (records + links) / secs * 10
print(f"  {records:,} records + {links:,} associations in {secs:.1f} s; "
      f"{s['requests']:,} requests ({s['write_requests']:,} writes), "
      f"{s['rate_limited']} rate-limited, {len(s['failures'])} failed")
print(f"  {per10:,.0f} records/10 s = {per10 / (rate * 100):.1%} of R x 100 = {rate * 100:,}")
print(f"  change log: {s.get('changes', 0):,} entries")
PY
  echo "  state: $(du -sb .pqlsync/state | cut -f1) bytes, of which change log $(du -sb .pqlsync/state/changes 2>/dev/null | cut -f1 || echo 0) bytes (routing memory copies: $(cat .pqlsync/state/changes/*/routing-before.json 2>/dev/null | wc -c) bytes)"
}

echo "first sync: $accounts accounts into an empty portal, R = $rate"
"$bin" run --quiet --summary-json first.json
report first.json

sed -i -e "s/^fit_weight = .*/fit_weight = 0.5/" -e "s/^usage_weight = .*/usage_weight = 0.5/" pqlsync.toml
sleep 11
echo "update sync: new scoring weights, every changed score rewritten"
"$bin" run --quiet --summary-json update.json
report update.json

if [ "$changes" = true ]; then
  sleep 11
  id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["sync"]["run_id"])' update.json)
  echo "revert of the update sync ($id): every record it changed set back"
  "$bin" revert --run "$id" --summary-json revert.json > /dev/null
  report revert.json
fi
