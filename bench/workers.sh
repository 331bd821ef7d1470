#!/usr/bin/env bash
# Beyond one machine (benches/workers.rs, issue 37 part 6): a 200 ms loopback
# site recorded into SQLite, into PostgreSQL by one worker and by three
# worker processes; appends through each storage's sequencer; verify on
# PostgreSQL. With --write the table goes into BENCHMARKS.md.
#
#   bench/workers.sh [--write]
set -euo pipefail
cd "$(dirname "$0")/.."
WRITE=0
[ "${1:-}" = "--write" ] && WRITE=1
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "PostgreSQL's server not found: apt-get install postgresql" >&2
  exit 2
fi
. bench/lib.sh
out=$(cargo bench --quiet --bench workers 2>/dev/null)
block=$(printf '%s\n\nMachine: %s. Date: %s.\n' "$out" "$(machine fs)" "$(date -u +%Y-%m-%d)")
echo "$block"
if [ "$WRITE" = 1 ]; then
  write_block workers "$block"
fi
