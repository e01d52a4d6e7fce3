#!/usr/bin/env bash
# Renders an experiment's report.html to a PNG with headless Chromium, to look
# at the figures without a browser.
#   bench/render_report.sh EXPDIR [OUT.png]    (default OUT: EXPDIR/report.png)
# The page is captured at REPORT_WIDTH x REPORT_HEIGHT pixels (default 1200 x 10000;
# what is below that is cut, what is shorter ends in white).
# Needs Chromium: sudo apt-get install -y chromium
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 || "$1" == "-h" || "$1" == "--help" ]]; then
  echo "usage: $0 EXPDIR [OUT.png]" >&2
  exit 2
fi
exp_dir=$1
html="$exp_dir/report.html"
out=${2:-$exp_dir/report.png}
width=${REPORT_WIDTH:-1200}
height=${REPORT_HEIGHT:-10000}

if [[ ! -f "$html" ]]; then
  echo "error: $html not found (run the experiment, or write the report, first)" >&2
  exit 1
fi

browser=""
for name in chromium chromium-browser google-chrome-stable google-chrome; do
  if command -v "$name" > /dev/null 2>&1; then
    browser=$(command -v "$name")
    break
  fi
done
if [[ -z "$browser" ]]; then
  echo "error: Chromium not found. Install it with:" >&2
  echo "    sudo apt-get install -y chromium" >&2
  echo "(Debian/Ubuntu; as root drop the sudo; on Ubuntu without snap, chromium-browser)" >&2
  exit 1
fi

abs_html=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
mkdir -p "$(dirname "$out")"
abs_out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
rm -f "$abs_out"

# A throwaway profile, so a running browser or a root user's profile does not interfere.
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
log="$profile/chromium.log"
if ! "$browser" --headless --disable-gpu --no-sandbox --hide-scrollbars --user-data-dir="$profile" \
    --screenshot="$abs_out" --window-size="$width,$height" "file://$abs_html" > "$log" 2>&1; then
  echo "error: $browser failed:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
if [[ ! -s "$abs_out" ]]; then
  echo "error: $browser wrote no screenshot to $abs_out:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
echo "$abs_out"
