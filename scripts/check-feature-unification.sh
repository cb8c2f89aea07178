#!/usr/bin/env bash
# Do the builds share one DataFusion? Cargo unifies features per build and puts them in each
# compiled unit's hash, so a crate the default build compiles (DataFusion above all) must get
# the same features in `cargo build` (no dev-dependencies), `cargo test` (with them) and
# `--features ballista`; otherwise each build compiles it, and all that depends on it, again.
#
#   scripts/check-feature-unification.sh            compare the feature sets `cargo tree`
#                                                   resolves (a second, nothing compiled)
#   scripts/check-feature-unification.sh --rebuilt LOG
#                                                   after a build run with
#                                                   CARGO_LOG=cargo::core::compiler::fingerprint=info,
#                                                   fail if it compiled DataFusion again
#
# The second form also catches what `cargo tree` cannot show: features of the build-time
# (host) copy of a crate, like memchr under psm's build script, which DataFusion's
# stack-overflow guard depends on. Exits 1 naming each crate that differs.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--rebuilt" ]; then
  # A unit is compiled when its fingerprint is missing (never built with these features) or
  # dirty (something it depends on was compiled); either way DataFusion was built again.
  rebuilt=$(grep -oE 'fingerprint (error|dirty) for datafusion[a-z-]* v[0-9.]*' "$2" \
    | sed -E 's/fingerprint (error|dirty) for //' | sort -u || true)
  if [ -n "$rebuilt" ]; then
    echo "this build compiled DataFusion again (right after the default build, that means their features differ):"
    echo "$rebuilt"
    exit 1
  fi
  echo "this build reused the default build's DataFusion"
  exit 0
fi

tree() { cargo tree --locked -e features --prefix depth --workspace "$@"; }
compare() {
python3 - "$1" "$2" "$3" <<'PY'
import re, sys

def load(path):
    """Features by (crate, version): a feature node's package is the next line, one deeper."""
    lines = open(path).read().splitlines()
    features, crates = {}, set()
    for i, line in enumerate(lines):
        m = re.match(r'^(\d+)(\S+) feature "([^"]+)"', line)
        if m:
            depth, name = int(m.group(1)), m.group(2)
            n = re.match(r"^(\d+)(\S+) v(\S+)", lines[i + 1]) if i + 1 < len(lines) else None
            if n and int(n.group(1)) == depth + 1 and n.group(2) == name:
                features.setdefault((name, n.group(3)), set()).add(m.group(3))
            continue
        m = re.match(r"^\d+(\S+) v(\S+)", line)
        if m:
            crates.add((m.group(1), m.group(2)))
    return features, crates

label = sys.argv[3]
base_features, base_crates = load(sys.argv[1])
other_features, other_crates = load(sys.argv[2])
if not base_crates or not other_crates:
    sys.exit(f"{label}: cargo tree printed nothing (see its error above)")
differ = [
    f"{name} {version}: {label} adds {sorted(extra)}"
    for (name, version) in sorted(base_crates)
    if (extra := other_features.get((name, version), set()) - base_features.get((name, version), set()))
]
if differ:
    print(f"crates {label} would compile twice (add these features in Cargo.toml):")
    print("\n".join(differ))
    sys.exit(1)
added = len(other_crates - base_crates)
print(f"feature sets unified: {label} adds {added} crates and recompiles none")
PY
}
compare <(tree -e normal,build) <(tree) "cargo test (over cargo build)"
compare <(tree) <(tree --features ballista) "the ballista build"
