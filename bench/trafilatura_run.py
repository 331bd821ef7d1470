"""Runs Python trafilatura over the benchmark pages on one thread.

Usage: trafilatura_run.py HTML_DIR GROUND_TRUTH.json OUT_PREDICTIONS.json
Prints one line: pages, seconds, bytes of HTML. Extraction time only (decompression and
file reading happen before the clock starts), as for newsledger.
"""
import gzip
import json
import os
import sys
import time

import trafilatura

html_dir, gt_path, out_path = sys.argv[1:4]
truth = json.load(open(gt_path, encoding="utf-8"))
pages = {}
for pid in truth:
    path = os.path.join(html_dir, pid + ".html.gz")
    with gzip.open(path, "rb") as f:
        pages[pid] = f.read().decode("utf-8", errors="replace")

out = {}
start = time.perf_counter()
for pid, html in pages.items():
    text = trafilatura.extract(html, include_comments=False, include_tables=True)
    out[pid] = {"articleBody": text or ""}
secs = time.perf_counter() - start
json.dump(out, open(out_path, "w", encoding="utf-8"))
print(f"{len(pages)} {secs:.3f} {sum(len(h.encode()) for h in pages.values())}")
