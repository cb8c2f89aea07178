#!/usr/bin/env bash
# Do the builds reuse each other's DataFusion? Cargo unifies features per build, so a crate
# the default build compiles (DataFusion above all) must get the same features in `cargo build`
# (no dev-dependencies), `cargo test` (with them) and `--features ballista`; otherwise each
# compiles it, and all that depends on it, again. Prints each crate whose features differ and
# exits 1; exits 0 when the larger build only adds crates.
set -euo pipefail
cd "$(dirname "$0")/.."
tree() { cargo tree --locked -e features --prefix none -p pqlsync "$@" | sort -u; }
compare() {
python3 - "$1" "$2" "$3" <<'PY'
import re, sys

def load(path):
    features, crates = {}, set()
    for line in open(path):
        line = line.strip().replace(" (*)", "")
        m = re.match(r'^(\S+) feature "([^"]+)"', line)
        if m:
            features.setdefault(m.group(1), set()).add(m.group(2))
            continue
        m = re.match(r"^(\S+) v(\S+)", line)
        if m:
            crates.add((m.group(1), m.group(2)))
    return features, crates

label = sys.argv[3]
base_features, base_crates = load(sys.argv[1])
ballista_features, ballista_crates = load(sys.argv[2])
if not base_crates or not ballista_crates:
    sys.exit(f"{label}: cargo tree printed nothing (see its error above)")
differ = []
for name, version in sorted(base_crates):
    extra = ballista_features.get(name, set()) - base_features.get(name, set())
    if extra:
        differ.append(f"{name} {version}: {label} adds {sorted(extra)}")
added = sorted(ballista_crates - base_crates)
if differ:
    print(f"crates {label} would compile twice (add these features in Cargo.toml):")
    print("\n".join(differ))
    sys.exit(1)
print(f"feature sets unified: {label} adds {len(added)} crates and recompiles none")
PY
}
compare <(tree -e normal,build) <(tree) "cargo test (over cargo build)"
compare <(tree) <(tree --features ballista) "the ballista build"
