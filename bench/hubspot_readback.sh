#!/usr/bin/env bash
# What reading HubSpot back costs: the request cost of an unchanged daily run on the 10M
# benchmark data (24,000 accounts, 30 days, ~11.5M `tracks` rows, as bench/run.sh generates
# it), against the local sandbox at HubSpot's Professional limit (190 requests per 10 s).
# A first sync fills the portal; a second run of the same day changes nothing, so everything it
# sends is the read-back. Prints the first sync's records and requests, then the read-back's
# records, requests and time, and the second run's writes (which must be 0).
#
#   bench/hubspot_readback.sh [ACCOUNTS=24000] [R=190]
#
# FIRST_AS_OF=2026-11-19 makes the first sync the day before, so the second run is the next
# day's: what a daily run writes on top of the read-back. PQLSYNC_BIN and SQL_DIR (default:
# this checkout's sql/) run another build with its own SQL.
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
cp -r "${SQL_DIR:-$root/sql}" "$work/sql"
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

first_day=()
[ -n "${FIRST_AS_OF:-}" ] && first_day=(--as-of "$FIRST_AS_OF")
echo "first sync: $accounts accounts into an empty portal, R = $rate ${FIRST_AS_OF:-}"
/usr/bin/time -f "  wall %e s, peak RSS %M KB" "$bin" run --quiet --summary-json first.json "${first_day[@]}" || true
python3 - first.json <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
s = summary["sync"]
for name, c in sorted(s["objects"].items()):
    print(f"  {name:<10} {c['created']:>7,} created, {c['failed']} failed")
print(f"  associations {s['associations']}")
print(f"  the first sync: {s['requests']:,} requests ({s['write_requests']:,} writes), {s['seconds']:.1f} s")
people = summary.get("people")
if people:
    print(f"  people: {people['users']:,} users scored, {people['champions']:,} champions, "
          f"{people['power_users']:,} power users, {people['without_email']:,} without an email")
PY
sleep 11
curl -s -X POST "$url/_sandbox/stats/reset" > /dev/null
if [ -n "${FIRST_AS_OF:-}" ]; then echo "the next day"; else echo "unchanged rerun of the same day"; fi
/usr/bin/time -f "  wall %e s, peak RSS %M KB" "$bin" run --quiet --summary-json second.json
python3 - second.json "$(curl -s "$url/_sandbox/stats")" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["sync"]
stats = json.loads(sys.argv[2])
l = s["listened"]
for name, c in sorted(l["objects"].items()):
    print(f"  {name:<10} {c['read']:>7,} records read, {c['changed_in_hubspot']} changed in HubSpot, {c['unread']} unread")
records = sum(c["read"] for c in l["objects"].values())
for name, c in sorted(s["objects"].items()):
    print(f"  {name:<10} {c['created']:>7,} created, {c['updated']:>7,} updated, {c['unchanged']:>7,} unchanged")
print(f"  read-back: {records:,} records in {l['requests']:,} requests, {l['seconds']:.1f} s")
print(f"  the whole run: {s['requests']:,} requests ({s['write_requests']} writes); "
      f"the sandbox counted {stats['requests']:,} requests, {stats['writes']} writes")
PY
