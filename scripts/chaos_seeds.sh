#!/usr/bin/env bash
# Run the 5-second chaos job over many seeds and summarise: every run must
# pass (exit 0: no integrity violation, every coverage path exercised).
#
#   scripts/chaos_seeds.sh [FIRST [LAST]]      # default seeds 1..50
#
# Prints one line per seed (exit code, failed checks, paths not exercised,
# preemption lateness) and a final count; exits 1 if any run did not pass.
set -euo pipefail
cd "$(dirname "$0")/.."
first=${1:-1}
last=${2:-50}
cargo build --release --locked --quiet
out=$(mktemp -d)
bad=0
for seed in $(seq "$first" "$last"); do
  code=0
  ./target/release/dynstress run --config configs/chaos.toml --duration 5 --seed "$seed" \
    --no-progress --json "$out/$seed.json" >"$out/$seed.txt" 2>&1 || code=$?
  python3 - "$out/$seed.json" "$seed" "$code" <<'PY'
import json, sys
path, seed, code = sys.argv[1], sys.argv[2], sys.argv[3]
r = json.load(open(path))
failed = [c["name"] for c in r["integrity"]["checks"] if not c["passed"]]
zero = [p["name"] for p in r["coverage"]["paths"] if not p["exercised"]]
late = r["coverage"]["preemption_lateness_us"]
print(f"seed {seed}: exit {code}; failed checks {failed or 'none'}; "
      f"not exercised {zero or 'none'}; preemption lateness p50 {late['p50']} µs, max {late['max']} µs")
PY
  [ "$code" -eq 0 ] || bad=$((bad + 1))
done
total=$((last - first + 1))
echo "$((total - bad)) of $total chaos runs passed (reports in $out)"
[ "$bad" -eq 0 ]
