#!/usr/bin/env bash
# What reading HubSpot back costs: the request cost of an unchanged daily run on the 10M
# benchmark data (24,000 accounts, 30 days, ~11.5M `tracks` rows, as bench/run.sh generates
# it), against the local sandbox at HubSpot's Professional limit (190 requests per 10 s).
# A first sync fills the portal; a second run of the same day changes nothing, so everything it
# sends is the read-back. Prints the read-back's records, requests and time, and the run's
# writes (which must be 0).
#
#   bench/hubspot_readback.sh [ACCOUNTS=24000] [R=190]
#
# Needs a release build: cargo build --release (binary from $CARGO_TARGET_DIR or target/).
set -euo pipefail
accounts=${1:-24000}
rate=${2:-190}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${PQLSYNC_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/pqlsync}
bench_dir="${BENCH_DIR:-$HOME/.cache/pqlsync-bench}"
data="$bench_dir/readback-$accounts"
work=$(mktemp -d)
trap 'kill $sandbox_pid 2>/dev/null || true; rm -rf "$work"' EXIT

if [ ! -f "$data/done" ]; then
  rm -rf "$data"
  "$bin" demo-data --out "$data" --accounts "$accounts" --days 30 --history-days 365 \
    --activity 2.3 --as-of 2026-11-20 --quiet
  touch "$data/done"
fi
cp -r "$root/sql" "$work/"
# The shipped config has a [hubspot] table already: the rate goes into it.
sed -e "s#fixtures/demo#$data#" -e "s#^\[hubspot\]\$#[hubspot]\nrequests_per_10s = $rate#" \
  "$root/pqlsync.toml" > "$work/pqlsync.toml"
cd "$work"

"$bin" sandbox --port 0 --requests-per-10s "$rate" --quiet > sandbox.out &
sandbox_pid=$!
for _ in $(seq 50); do [ -s sandbox.out ] && break; sleep 0.1; done
url=$(awk '{print $3}' sandbox.out)
export HUBSPOT_BASE_URL=$url HUBSPOT_TOKEN=sandbox-token
"$bin" hubspot setup --create-pipelines --quiet
sleep 11 # let setup's requests leave the rate-limit window

echo "first sync: $accounts accounts into an empty portal, R = $rate"
"$bin" run --quiet --summary-json first.json || true
sleep 11
curl -s -X POST "$url/_sandbox/stats/reset" > /dev/null
echo "unchanged rerun of the same day"
/usr/bin/time -f "  wall %e s, peak RSS %M KB" "$bin" run --quiet --summary-json second.json
python3 - second.json "$(curl -s "$url/_sandbox/stats")" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["sync"]
stats = json.loads(sys.argv[2])
l = s["listened"]
for name, c in sorted(l["objects"].items()):
    print(f"  {name:<10} {c['read']:>7,} records read, {c['changed_in_hubspot']} changed in HubSpot, {c['unread']} unread")
records = sum(c["read"] for c in l["objects"].values())
print(f"  read-back: {records:,} records in {l['requests']:,} requests, {l['seconds']:.1f} s")
print(f"  the whole run: {s['requests']:,} requests ({s['write_requests']} writes); "
      f"the sandbox counted {stats['requests']:,} requests, {stats['writes']} writes")
PY
