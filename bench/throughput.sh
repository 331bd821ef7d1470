#!/usr/bin/env bash
# Throughput and storage: the zstd level table and delta sizes
# (benches/blobs.rs), then the nginx ingest (benches/ingest.rs: 100 loopback
# hosts × 50 pages of 60–200 KB, first ingest, 304 re-fetches, bytes written
# to storage per fetch). With
# --write, both go into BENCHMARKS.md. Needs nginx (Debian: nginx-light).
# NEWSLEDGER_BENCH_PEER=/path/to/newsledger runs the same ingest with that
# binary first (an earlier release) and prints the ratios.
#
#   bench/throughput.sh [--write]
set -euo pipefail
cd "$(dirname "$0")/.."
WRITE=0
[ "${1:-}" = "--write" ] && WRITE=1
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "nginx not found: apt-get install nginx-light" >&2
  exit 2
fi
. bench/lib.sh
machine=$(machine fs)
blobs=$(cargo bench --quiet --bench blobs 2>/dev/null | grep -E '^\||^$')
ingest=$(cargo bench --quiet --bench ingest 2>/dev/null | grep -E '^\|')
blobs_block=$(printf '%s\n\nMachine: %s. Date: %s.\n' "$blobs" "$machine" "$(date -u +%Y-%m-%d)")
ingest_block=$(printf '%s\n\nMachine: %s. Date: %s.\n' "$ingest" "$machine" "$(date -u +%Y-%m-%d)")
echo "$blobs_block"
echo
echo "$ingest_block"
if [ "$WRITE" = 1 ]; then
  write_block blobs "$blobs_block"
  write_block ingest "$ingest_block"
fi
