#!/usr/bin/env bash
# Every benchmark, written into BENCHMARKS.md: extraction against Python
# trafilatura on the Zyte and WCXB pages (needs PyPI; WCXB takes trafilatura
# about two minutes), then the system benchmarks (1M-entry ledger, memory,
# end-to-end ingest) and the nginx throughput.
set -euo pipefail
cd "$(dirname "$0")/.."
bench/extraction.sh --write
bench/extraction_wcxb.sh --write
bench/system.sh --write
bench/throughput.sh --write
