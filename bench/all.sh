#!/usr/bin/env bash
# Every benchmark, written into BENCHMARKS.md: extraction against Python
# trafilatura (needs PyPI), then the system benchmarks (1M-entry ledger,
# memory, end-to-end ingest). About two minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
bench/extraction.sh --write
bench/system.sh --write
bench/throughput.sh --write
