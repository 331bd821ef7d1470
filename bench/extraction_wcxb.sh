#!/usr/bin/env bash
# Extraction on today's templates: newsledger against Python trafilatura on
# the WCXB development pages (1,497), same pages, same machine, same run,
# one thread each. Prints body F1 per page type and metadata accuracy for
# both (scored by extract-eval's rules, the body by evaluate.py's), and the
# speed ratio; with --write, records the table in BENCHMARKS.md.
#
#   bench/extraction_wcxb.sh [--write]
#
# Needs python3 with venv and pip (trafilatura from PyPI, into a temporary
# virtual environment) and ../shared/datasets/wcxb-dev (or $WCXB_DIR).
# trafilatura's time is extraction only (pages read and decompressed before
# its clock); ours also counts scoring each page, so the ratio is, if
# anything, low.
set -euo pipefail
cd "$(dirname "$0")/.."
WCXB_DIR=${WCXB_DIR:-../shared/datasets/wcxb-dev}
WRITE=0
[ "${1:-}" = "--write" ] && WRITE=1
[ -d "$WCXB_DIR/ground-truth" ] || { echo "dataset not found in $WCXB_DIR (set WCXB_DIR)" >&2; exit 2; }

. bench/lib.sh
trafilatura_venv

ours=$("$eval_bin" --wcxb "$WCXB_DIR" --worst 0)
ours_pps=$(grep '^speed:' <<<"$ours" | awk '{print $2}')
read -r pages secs < <("$traf_python" bench/trafilatura_wcxb.py "$WCXB_DIR" "$work/traf.json")
traf_pps=$(awk -v p="$pages" -v s="$secs" 'BEGIN {printf "%.1f", p/s}')
traf=$("$eval_bin" --wcxb "$WCXB_DIR" --worst 0 --predictions "$work/traf.json")
ratio=$(awk -v a="$ours_pps" -v b="$traf_pps" 'BEGIN {printf "%.1f", a/b}')
version=$(grep -o 'newsledger-extract/[0-9]*' src/extract/mod.rs | head -1)

# "  article  793 pages  F1 0.956" -> 0.956; metadata lines -> the article figure.
body() { awk -v t="$1" '$1 == t && $4 == "F1" {print $5}' <<<"$2"; }
meta() { awk -v f="$1" '$1 == f {for (i = 1; i <= NF; i++) if ($i == "articles") print $(i + 1)}' <<<"$2"; }
starved() { grep -o 'extracting < 20 % of them: [0-9]*' <<<"$1" | awk '{print $NF}'; }

table=$(
  echo "| measure | newsledger ($version) | trafilatura $traf_version (Python) |"
  echo "| --- | --- | --- |"
  for t in article collection documentation forum listing product service all; do
    echo "| body F1, $t pages | $(body "$t" "$ours") | $(body "$t" "$traf") |"
  done
  echo "| article pages with ≥ 100 gold words extracting < 20 % | $(starved "$ours") | $(starved "$traf") |"
  for f in title author date; do
    echo "| $f, article pages | $(meta "$f" "$ours") | $(meta "$f" "$traf") |"
  done
  echo "| pages/s (one thread) | $ours_pps | $traf_pps |"
  echo
  echo "Speed ratio newsledger / trafilatura: **${ratio}×**. Machine: $(machine). Date: $(date -u +%Y-%m-%d)."
)
echo "$table"

if [ "$WRITE" = 1 ]; then
  write_block wcxb "$table"
fi
