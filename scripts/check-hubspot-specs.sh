#!/usr/bin/env bash
# Check every request pqlsync sends, and every answer of the sandbox, against HubSpot's own
# published OpenAPI specs, using Prism (stoplight) as a validating proxy in front of the
# sandbox. A developer tool, not part of CI: it needs Node (npm) and the spec collection.
#
#   scripts/check-hubspot-specs.sh PATH/TO/HubSpot-public-api-spec-collection [VERSION]
#
# PATH is a checkout, or a bare git directory of one (the specs are read from its HEAD).
# VERSION is the API version to check, as `[hubspot] api_version` takes it: 2026-09 (the
# default), 2026-03, or legacy (the v3/v4 specs).
#
# The specs are HubSpot's and not licensed for redistribution: read them from a checkout of
# https://github.com/HubSpot/HubSpot-public-api-spec-collection, never copy them here.
# Prism is installed into a temporary directory (npm @stoplight/prism-cli@5.14.2) unless
# PRISM points at a prism binary. Exit 0 when no request or response violated a spec.
set -euo pipefail
collection=${1:?usage: $0 PATH/TO/HubSpot-public-api-spec-collection}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${PQLSYNC_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/pqlsync}
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
version=${2:-2026-09}
case "$version" in
  2026-09|2026-03) v3=$version; v4=$version; assoc=130902 ;;
  legacy) v3=v3; v4=v4; assoc=50914 ;;
  *) echo "unknown version $version: 2026-09, 2026-03 or legacy" >&2; exit 2 ;;
esac
declare -A spec=(
  [companies]="Companies/Rollouts/424/$v3/companies.json"
  [contacts]="Contacts/Rollouts/424/$v3/contacts.json"
  [deals]="Deals/Rollouts/424/$v3/deals.json"
  [leads]="Leads/Rollouts/424/$v3/leads.json"
  [tasks]="Tasks/Rollouts/424/$v3/tasks.json"
  [properties]="Properties/Rollouts/145899/$v3/properties.json"
  [pipelines]="Pipelines/Rollouts/145896/$v3/pipelines.json"
  [owners]="Crm Owners/Rollouts/146888/$v3/crmOwners.json"
  [associations]="Associations/Rollouts/$assoc/$v4/associations.json"
  [associationsSchema]="Associations Schema/Rollouts/$assoc/$v4/associationsSchema.json"
  [validations]="Property Validations/Rollouts/215885/$v3/propertyValidations.json"
)
mkdir "$work/specs"
for name in "${!spec[@]}"; do
  path="PublicApiSpecs/CRM/${spec[$name]}"
  if [ -f "$collection/$path" ]; then
    cp "$collection/$path" "$work/specs/$name.json"
  else
    git --git-dir "$collection" show "HEAD:$path" > "$work/specs/$name.json"
  fi
done
prism=${PRISM:-}
if [ -z "$prism" ]; then
  (cd "$work" && npm install --silent @stoplight/prism-cli@5.14.2 >/dev/null)
  prism="$work/node_modules/.bin/prism"
fi

cp -r "$root/sql" "$root/fixtures" "$work/"
cp "$root/pqlsync.toml" "$work/"
cd "$work"
# The shipped config has a [hubspot] table already: the version goes into it.
sed -i "s#^\[hubspot\]\$#[hubspot]\napi_version = \"$version\"#" pqlsync.toml
"$bin" sandbox --port 0 --requests-per-10s 10000 --quiet > sandbox.out &
pids+=($!)
for _ in $(seq 50); do [ -s sandbox.out ] && break; sleep 0.1; done
sandbox=$(awk '{print $3}' sandbox.out)

port=19700
routes=()
for name in "${!spec[@]}"; do
  "$prism" proxy "$work/specs/$name.json" "$sandbox" --port "$port" --errors > "prism-$name.log" 2>&1 &
  pids+=($!)
  routes+=("$name=$port")
  port=$((port + 1))
done
python3 "$root/scripts/spec_router.py" 19699 "${routes[@]}" 2> violations.log > routed.log &
pids+=($!)
for p in $(seq 19700 $((port - 1))); do
  for _ in $(seq 150); do (echo > /dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.2; done
  (echo > /dev/tcp/127.0.0.1/$p) 2>/dev/null || { cat prism-*.log; echo "prism on port $p did not start"; exit 2; }
done

export HUBSPOT_BASE_URL=http://127.0.0.1:19699 HUBSPOT_TOKEN=sandbox-token
"$bin" hubspot check --quiet || true                 # a fresh portal is not ready: exit 2
"$bin" hubspot setup --create-pipelines --quiet
"$bin" run --quiet                                   # first sync: creates
sed -i -e "s/^fit_weight = .*/fit_weight = 0.5/" -e "s/^usage_weight = .*/usage_weight = 0.5/" pqlsync.toml
"$bin" run --quiet --as-of 2026-11-21 --summary-json update.json   # updates, lifecycle reads
"$bin" plan --quiet --as-of 2026-11-21               # reads only
update=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["sync"]["run_id"])' update.json)
"$bin" revert --run "$update" --archive-created-tasks > /dev/null   # reads by id, updates, archives
requests=$(cat prism-*.log | grep -c "Request received" || true)
# Every request must have been checked against a spec of the version asked for.
echo "requests by spec (API $version):"
sort routed.log | uniq -c | sort -rn
if [ -s violations.log ]; then
  cat violations.log
  echo "spec violations: $(wc -l < violations.log) (of $requests requests, API $version)"
  exit 1
fi
echo "no spec violations in $requests requests (API $version)"
