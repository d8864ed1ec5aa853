#!/usr/bin/env bash
# Render an HTML report to a PNG with headless Chromium (Debian's
# `chromium`), as a person would see it in a 1280-pixel-wide window.
#
#   scripts/render_html.sh REPORT.html OUT.png [HEIGHT]
#
# Without arguments: run configs/ramp.toml squeezed into 12 s, seed 7,
# and render its report to docs/report.png (the picture in the README).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $# -eq 0 ]]; then
    cargo build --release --locked
    mkdir -p target/render
    ./target/release/dynstress run --config configs/ramp.toml --duration 12 --seed 7 \
        --no-progress --quiet --html target/render/report.html || true
    set -- target/render/report.html docs/report.png
fi
html=$1
png=$2
height=${3:-3300}
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# Closed network: everything that would reach out is turned off.
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$profile" \
    --window-size="1280,$height" --screenshot="$(realpath -m "$png")" \
    "file://$(realpath "$html")" 2>/dev/null
echo "rendered $html to $png"
