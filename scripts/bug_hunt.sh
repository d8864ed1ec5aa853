#!/usr/bin/env bash
# Measure the proof: plant each bug of scripts/bugs/ in turn and see which
# runs catch it (exit 3, an integrity check failed).
#
#   scripts/bug_hunt.sh [PATCH...]        # default: every scripts/bugs/*.patch
#   SEEDS="1 2" scripts/bug_hunt.sh       # real-clock seeds (default "1 2")
#
# For each patch: apply it to the work tree, build release into
# target/hunt (so the normal target/ stays clean), run
#
#   brutal   run --config configs/brutal.toml --duration 5 --seed S  (real clock)
#   chaos    run --config configs/chaos.toml  --duration 5 --seed S  (real clock)
#   explore  explore --config configs/chaos.toml --seeds 1..200 --duration 5
#
# and revert the patch. One line per bug: the exit code of each run (3 is a
# catch; "T" is a run that did not finish in 60 s) and which checks failed.
# The healthy engine (no patch) is run first: it must pass everything.
# The patches are never applied by `cargo test`; the work tree must be
# clean in the files they touch.
set -uo pipefail
cd "$(dirname "$0")/.."
seeds=${SEEDS:-"1 2"}
export CARGO_TARGET_DIR=$PWD/target/hunt
# Every patch is a new build: without fat LTO and with parallel codegen it
# takes about a minute instead of several. The planted bugs are logic
# errors; they do not depend on how the build is optimised.
export CARGO_PROFILE_RELEASE_LTO=${CARGO_PROFILE_RELEASE_LTO:-false}
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=${CARGO_PROFILE_RELEASE_CODEGEN_UNITS:-16}
bin=$CARGO_TARGET_DIR/release/dynstress
tmp=$PWD/target/tmp/hunt
mkdir -p "$tmp"
if [ $# -eq 0 ]; then set -- healthy scripts/bugs/*.patch; fi

failed_checks() {
  python3 - "$1" <<'PY' 2>/dev/null
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception:
    sys.exit()
checks = r.get("integrity", {}).get("checks", [])
print(",".join(c["name"] for c in checks if not c["passed"]))
PY
}

run() { # name, args...
  local name=$1
  shift
  local code=0
  timeout 60 "$bin" "$@" --no-progress --json "$tmp/$name.json" >"$tmp/$name.txt" 2>&1 || code=$?
  [ "$code" -eq 124 ] && code=T
  printf '%s=%s' "$name" "$code"
  local f
  f=$(failed_checks "$tmp/$name.json")
  [ -n "$f" ] && printf '(%s)' "$f"
  printf ' '
}

for patch in "$@"; do
  name=$(basename "$patch" .patch)
  if [ "$patch" != healthy ] && ! git apply "$patch"; then
    echo "$name: does not apply"
    continue
  fi
  if cargo build --release --locked --quiet 2>"$tmp/build.txt"; then
    printf '%s: ' "$name"
    for s in $seeds; do
      run "brutal.$s" run --config configs/brutal.toml --duration 5 --seed "$s"
      run "chaos.$s" run --config configs/chaos.toml --duration 5 --seed "$s"
    done
    code=0
    timeout 120 "$bin" explore --config configs/chaos.toml --seeds 1..200 --duration 5 \
      --no-progress --no-shrink --json "$tmp/explore.json" >"$tmp/explore.txt" 2>&1 || code=$?
    [ "$code" -eq 124 ] && code=T
    printf 'explore=%s' "$code"
    python3 - "$tmp/explore.json" <<'PY' 2>/dev/null
import json, sys
r = json.load(open(sys.argv[1]))
names = sorted({c for f in r.get("failures", []) for c in f.get("checks", [])})
print("(" + ",".join(names) + ")" if names else "")
PY
    echo
  else
    echo "$name: does not build"
  fi
  [ "$patch" != healthy ] && git apply -R "$patch"
done
rm -rf "$tmp"
