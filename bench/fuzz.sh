#!/usr/bin/env bash
# Property-based fuzzing, for a bounded number of cases. CI runs a few dozen
# to a few hundred cases per property inside `cargo test`; this script runs
# many more:
#   - the extractor (arbitrary strings, tag soup) and the configuration parser;
#   - every reader of untrusted bytes: captures, ZIP, DER, notes, bundles;
#   - the link guard against an independent statement of its rule, and the
#     feed, sitemap and listing parsers (tests/guard_fuzz.rs);
#   - our HTML parser against html5ever on random tag soup (tests/tree_conformance.rs);
#   - the article lifecycle against its reference model (tests/lifecycle_model.rs:
#     page versions, reverts, 304s, 404/410s, restorations, errors, crashes).
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
PROPTEST_CASES=$CASES cargo test --release --test guard_fuzz -- --nocapture
# Readers of untrusted bytes: captures, ZIP, DER (certificates, tokens),
# notes and checkpoints, whole bundles mutated (tests/readers_fuzz.rs).
PROPTEST_CASES=$CASES cargo test --release --test readers_fuzz -- --nocapture
PROPTEST_CASES=$CASES cargo test --release --test tree_conformance tag_soup -- --nocapture
# Each lifecycle case is a real SQLite file with a durable commit per step:
# a tenth of the cases takes about as long as the extractor's.
PROPTEST_CASES=$(( CASES / 10 > 0 ? CASES / 10 : 1 )) cargo test --release --test lifecycle_model -- --nocapture
