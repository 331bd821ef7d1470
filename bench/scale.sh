#!/usr/bin/env bash
# A cycle's memory as the watch list grows (benches/scale.rs, issue 37 part
# 0): 100 loopback hosts behind nginx, sitemaps listing N articles, a first
# ingest and a 304 re-fetch at each N, GNU time's peak RSS. With --write the
# table goes into BENCHMARKS.md. NEWSLEDGER_BENCH_PEER=/path/to/newsledger
# runs the same with that binary and prints the ratios;
# NEWSLEDGER_BENCH_SCALES=5000,20000,100000 (the default) sets the sizes.
#
#   bench/scale.sh [--write]
set -euo pipefail
cd "$(dirname "$0")/.."
WRITE=0
[ "${1:-}" = "--write" ] && WRITE=1
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "nginx not found: apt-get install nginx-light" >&2
  exit 2
fi
. bench/lib.sh
table=$(cargo bench --quiet --bench scale 2>/dev/null | grep -E '^\||^$|^Pages')
block=$(printf '%s\n\nMachine: %s. Date: %s.\n' "$table" "$(machine fs)" "$(date -u +%Y-%m-%d)")
echo "$block"
if [ "$WRITE" = 1 ]; then
  write_block scale "$block"
fi
