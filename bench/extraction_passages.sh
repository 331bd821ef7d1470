#!/usr/bin/env bash
# Extraction in more languages: newsledger against Python trafilatura on the
# development half of trafilatura's multilingual evaluation corpus (470
# pages, passages the main text must and must not contain), same pages,
# same machine, same run, one thread each. Prints precision, recall, F1,
# accuracy and the pages that lost their main text, overall and per country
# of the host, for both, and the speed ratio; with --write, records the
# table in BENCHMARKS.md.
#
#   bench/extraction_passages.sh [--write]
#
# Needs python3 with venv and pip (trafilatura from PyPI, into a temporary
# virtual environment) and ../shared/datasets/trafilatura-eval-dev (or
# $PASSAGES_DIR). trafilatura's time is extraction only; ours includes
# decoding the page's charset.
set -euo pipefail
cd "$(dirname "$0")/.."
PASSAGES_DIR=${PASSAGES_DIR:-../shared/datasets/trafilatura-eval-dev}
WRITE=0
[ "${1:-}" = "--write" ] && WRITE=1
[ -f "$PASSAGES_DIR/evaldata-dev.json" ] || { echo "dataset not found in $PASSAGES_DIR (set PASSAGES_DIR)" >&2; exit 2; }

. bench/lib.sh
trafilatura_venv

ours=$("$eval_bin" --passages "$PASSAGES_DIR" --worst 0)
ours_pps=$(grep '^speed:' <<<"$ours" | awk '{print $2}')
read -r pages secs < <("$traf_python" bench/trafilatura_passages.py "$PASSAGES_DIR" "$work/traf.json")
traf_pps=$(awk -v p="$pages" -v s="$secs" 'BEGIN {printf "%.1f", p/s}')
traf=$("$eval_bin" --passages "$PASSAGES_DIR" --worst 0 --predictions "$work/traf.json")
ratio=$(awk -v a="$ours_pps" -v b="$traf_pps" 'BEGIN {printf "%.1f", a/b}')
version=$(grep -o 'newsledger-extract/[0-9]*' src/extract/mod.rs | head -1)

# "  de  207 pages  P 0.908  R 0.892  F1 0.900  accuracy 0.902  lost 9"
group() { awk -v g="$1" '$1 == g {printf "%s pages: F1 %s (P %s, R %s), lost %s", $2, $9, $5, $7, $13}' <<<"$2"; }
groups=$(awk '/^per country/ {on = 1; next} on && NF == 0 {on = 0} on {print $1}' <<<"$ours")

table=$(
  echo "| pages | newsledger ($version) | trafilatura $traf_version (Python) |"
  echo "| --- | --- | --- |"
  for g in $groups; do
    echo "| $g | $(group "$g" "$ours") | $(group "$g" "$traf") |"
  done
  echo "| accuracy, all | $(awk '/^accuracy:/ {print $2}' <<<"$ours") | $(awk '/^accuracy:/ {print $2}' <<<"$traf") |"
  echo "| pages/s (one thread) | $ours_pps | $traf_pps |"
  echo
  echo "Pages without their main text, newsledger: $(awk '/^pages without/ {on = 1; next} on && /^  / {printf "%s%s", sep, $1; sep = ", "} on && !/^  / {on = 0}' <<<"$ours" | sed 's/^$/none/')."
  echo
  echo "Pages without their main text, trafilatura: $(awk '/^pages without/ {on = 1; next} on && /^  / {printf "%s%s", sep, $1; sep = ", "} on && !/^  / {on = 0}' <<<"$traf" | sed 's/^$/none/')."
  echo
  echo "Speed ratio newsledger / trafilatura: **${ratio}×**. Machine: $(machine). Date: $(date -u +%Y-%m-%d)."
)
echo "$table"

if [ "$WRITE" = 1 ]; then
  write_block passages "$table"
fi
