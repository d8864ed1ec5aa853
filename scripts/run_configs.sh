#!/usr/bin/env bash
# Run the three shipped configs and print one line each: a by-hand check of
# a build.
#
#   scripts/run_configs.sh        # 15 s each
#   scripts/run_configs.sh 5      # 5 s each
#
# Each line: exit code, ops submitted, completion rate, retries,
# preemptions, grace saves and integrity violations. A run that exits
# non-zero is reported like any other; the script exits 1 if any did.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${1:-15}
if ! [[ "$seconds" =~ ^[0-9]+([.][0-9]+)?$ ]]; then
    echo "run_configs.sh: duration must be a number of seconds, got '$seconds'" >&2
    echo "usage: scripts/run_configs.sh [SECONDS]" >&2
    exit 2
fi
command -v python3 >/dev/null || { echo "run_configs.sh: python3 is required" >&2; exit 2; }

cargo build --release --quiet
# Wherever cargo puts it: CARGO_TARGET_DIR, a config's build.target-dir,
# or target/.
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target_dir/release/dynstress"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

status=0
for name in brutal chaos max; do
    rc=0
    "$bin" run --config "configs/$name.toml" --duration "$seconds" \
        --json "$tmp/$name.json" --no-progress --quiet || rc=$?
    ((rc == 0)) || status=1
    python3 - "$name" "$rc" "$tmp/$name.json" <<'PY'
import json
import sys

name, rc, path = sys.argv[1:4]
try:
    with open(path) as f:
        r = json.load(f)
except (OSError, ValueError):
    print(f"{name:<7} exit {rc:>3}  (no JSON report)")
    sys.exit(0)
o, c = r["operations"], r["conflicts"]
print(
    f"{name:<7} exit {rc:>3}  submitted {o['submitted']:>11,}  "
    f"completion {100 * r['rates']['completion_rate']:5.1f}%  "
    f"retries {o['retried']:>7,}  preemptions {c['preemptions']:>6,}  "
    f"grace saves {c['grace_saves']:>9,}  violations {r['integrity']['violations']}"
)
PY
done
exit "$status"
