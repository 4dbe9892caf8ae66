#!/usr/bin/env bash
# The HTML report in a real browser: headless Chromium (Debian's package) opens the reports the README
# makes, saves screenshots under .ci/artifacts/, and checks that each page rendered: the number of SVG
# plots in the rendered DOM equals the number in the file (and is at least one), no console message at
# all (the page has no script, so any console line is an error: a blocked fetch, a parse error), and a
# screenshot that is not blank.
#
# Reports: the README's CSV path (load docs/examples/metrics.csv, detect, report) and
# `python -m simulator demo --report`. Every step is bounded with `timeout`; the trap removes the
# temporary directory and Chromium's profile. Environment: PYTHON (default: python).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
say() { printf '\n---- report: %s ----\n' "$*"; }

if ! command -v chromium >/dev/null 2>&1; then
  say "installing Debian's chromium"
  timeout 600 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
fi
chromium --version 2>/dev/null | head -1

WORK=$(mktemp -d /tmp/ci-report.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ART=.ci/artifacts
mkdir -p "$ART"

say "the README's CSV path: load, detect, report"
timeout 120 "$PYTHON" -m backend.analytics load csv docs/examples/metrics.csv --store "$WORK/my.db" \
  --column cluster=region --column node=host --column metric=metric --column timestamp=time \
  --id tenant=acme --timezone Europe/Paris --duplicates last
timeout 120 "$PYTHON" -m backend.analytics detect --store "$WORK/my.db" --tenant acme
timeout 120 "$PYTHON" -m backend.analytics report --store "$WORK/my.db" --tenant acme --out "$WORK/csv.html"

say "python -m simulator demo --report"
timeout 300 "$PYTHON" -m simulator demo --quiet --report "$WORK/demo.html" | tail -n 1

chrome() {
  # As root Chromium needs --no-sandbox; the rest keeps it off the network and quiet.
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --disable-extensions \
    --user-data-dir="$WORK/profile-$1" "${@:2}"
}

for name in csv demo; do
  page="$WORK/$name.html"
  say "chromium: $name.html"
  chrome "$name-shot" --window-size=1200,2400 --hide-scrollbars --screenshot="$ART/report-$name.png" \
    "file://$page" >/dev/null 2>"$WORK/$name-shot.log"
  chrome "$name-dom" --enable-logging=stderr --v=0 --dump-dom "file://$page" \
    >"$WORK/$name-dom.html" 2>"$WORK/$name-console.log"
  "$PYTHON" - "$page" "$WORK/$name-dom.html" "$WORK/$name-console.log" "$ART/report-$name.png" <<'PY'
import re
import struct
import sys

page, dom, console, png = sys.argv[1:]
source = open(page, encoding="utf-8").read()
rendered = open(dom, encoding="utf-8").read()
want = source.count('<svg class="plot"')
got = len(re.findall(r'<svg class="plot"', rendered))
errors = [line for line in open(console, encoding="utf-8", errors="replace") if "CONSOLE" in line]
with open(png, "rb") as fh:
    data = fh.read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit(f"FAILED: {png} is not a PNG")
width, height = struct.unpack(">II", data[16:24])
# A page holding one line of text screenshots to about 14 KB at this size; the reports to 150 KB and more.
print(f"{page}: {want} plots in the file, {got} in the rendered DOM; {len(errors)} console lines; "
      f"screenshot {width}x{height}, {len(data) / 1024:.0f} KB")
if want < 1 or got != want:
    sys.exit(f"FAILED: expected {want} (>= 1) SVG plots in the rendered page, got {got}")
if errors:
    sys.exit("FAILED: console messages:\n" + "".join(errors))
if len(data) < 50 * 1024:
    sys.exit(f"FAILED: the screenshot {png} is {len(data)} bytes: the page looks blank")
PY
done
say "passed: screenshots in $ART"
