#!/usr/bin/env bash
# Extraction benchmark: newsledger against Python trafilatura on the Zyte
# article extraction benchmark, same pages, same machine, same run, one
# thread each. Prints both rows and the ratio; with --write, also records
# the result in BENCHMARKS.md.
#
#   bench/extraction.sh [--write] [--runs N]
#
# Needs python3 with venv and pip (trafilatura is installed from PyPI into a
# temporary virtual environment) and the dataset in
# ../shared/datasets/zyte-article-extraction (or $ZYTE_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
ZYTE_DIR=${ZYTE_DIR:-../shared/datasets/zyte-article-extraction}
RUNS=3
WRITE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --write) WRITE=1 ;;
    --runs) RUNS=$2; shift ;;
    *) echo "usage: bench/extraction.sh [--write] [--runs N]" >&2; exit 2 ;;
  esac
  shift
done
[ -f "$ZYTE_DIR/ground-truth.json" ] || { echo "dataset not found in $ZYTE_DIR (set ZYTE_DIR)" >&2; exit 2; }

. bench/lib.sh
trafilatura_venv

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

ours_pps=(); traf_pps=(); ours_mbs=(); traf_mbs=()
for i in $(seq "$RUNS"); do
  ours=$("$eval_bin" "$ZYTE_DIR/html" "$ZYTE_DIR/ground-truth.json" --worst 0 --write-predictions "$work/ours.json")
  ours_pps+=("$(grep '^speed:' <<<"$ours" | awk '{print $2}')")
  ours_mbs+=("$(grep '^speed:' <<<"$ours" | awk '{print $4}')")
  read -r pages secs bytes < <("$traf_python" bench/trafilatura_run.py "$ZYTE_DIR/html" "$ZYTE_DIR/ground-truth.json" "$work/traf.json")
  traf_pps+=("$(awk -v p="$pages" -v s="$secs" 'BEGIN {printf "%.1f", p/s}')")
  traf_mbs+=("$(awk -v b="$bytes" -v s="$secs" 'BEGIN {printf "%.1f", b/1e6/s}')")
done
ours_med=$(printf '%s\n' "${ours_pps[@]}" | median)
traf_med=$(printf '%s\n' "${traf_pps[@]}" | median)
ours_mb=$(printf '%s\n' "${ours_mbs[@]}" | median)
traf_mb=$(printf '%s\n' "${traf_mbs[@]}" | median)
ratio=$(awk -v a="$ours_med" -v b="$traf_med" 'BEGIN {printf "%.1f", a/b}')

field() { grep "^$1:" <<<"$2" | awk '{print $2}'; }
ours_score=$("$eval_bin" --score "$work/ours.json" "$ZYTE_DIR/ground-truth.json" --worst 0)
traf_score=$("$eval_bin" --score "$work/traf.json" "$ZYTE_DIR/ground-truth.json" --worst 0)
machine=$(machine)
version=$(grep '^extractor:' <<<"$ours" | awk '{print $2}')

table=$(cat <<TABLE
| extractor | F1 | precision | recall | accuracy | pages/s (median of $RUNS, one thread) | MB/s |
| --- | --- | --- | --- | --- | --- | --- |
| newsledger ($version) | $(field F1 "$ours_score") | $(field precision "$ours_score") | $(field recall "$ours_score") | $(field accuracy "$ours_score") | $ours_med | $ours_mb |
| trafilatura $traf_version (Python) | $(field F1 "$traf_score") | $(field precision "$traf_score") | $(field recall "$traf_score") | $(field accuracy "$traf_score") | $traf_med | $traf_mb |

Speed ratio newsledger / trafilatura: **${ratio}×**. Machine: $machine. Date: $(date -u +%Y-%m-%d).
TABLE
)
echo "$table"
echo
grep -E '^(empty|speed):' <<<"$ours"

if [ "$WRITE" = 1 ]; then
  write_block extraction "$table"
fi
