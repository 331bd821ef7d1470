#!/usr/bin/env bash
# System benchmarks (ledger, verify, history, bytes per entry, memory,
# end-to-end ingest) from benches/system.rs. With --write, the table goes
# into BENCHMARKS.md.
#
#   bench/system.sh [--write] [--entries N]     (default N = 1,000,000)
set -euo pipefail
cd "$(dirname "$0")/.."
ENTRIES=1000000
WRITE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --write) WRITE=1 ;;
    --entries) ENTRIES=$2; shift ;;
    *) echo "usage: bench/system.sh [--write] [--entries N]" >&2; exit 2 ;;
  esac
  shift
done
table=$(NEWSLEDGER_BENCH_ENTRIES=$ENTRIES cargo bench --quiet --bench system 2>/dev/null | grep -E '^\||^$|^Per fetch')
. bench/lib.sh
machine=$(machine fs)
block=$(printf '%s\n\nMachine: %s. Date: %s. Ledger sizes 10k, 100k and %s entries.\n' "$table" "$machine" "$(date -u +%Y-%m-%d)" "$ENTRIES")
echo "$block"
if [ "$WRITE" = 1 ]; then
  write_block system "$block"
fi
