#!/usr/bin/env bash
# Property-based fuzzing of the extractor (arbitrary strings, tag soup) and
# the configuration parser, for a bounded number of cases. CI runs 256 cases
# per property inside `cargo test`; this script runs many more:
#
#   bench/fuzz.sh              # 20,000 cases per property (a few minutes)
#   bench/fuzz.sh 1000000      # longer
#
# A failure prints the smallest input proptest found and saves it under
# proptest-regressions/ so that the next run tries it first: commit that file.
set -euo pipefail
cd "$(dirname "$0")/.."
CASES=${1:-20000}
PROPTEST_CASES=$CASES cargo test --release --test hostile -- --nocapture
