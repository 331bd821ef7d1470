"""Runs Python trafilatura over the passage benchmark's pages on one thread.

Usage: trafilatura_passages.py DATASET_DIR OUT_PREDICTIONS.json
Writes {url: text}; prints one line: pages, seconds. Extraction time only
(files are read and decompressed before the clock). The call is the one the
dataset's README gives: extract(html, include_comments=False,
include_tables=True), on the page's bytes (trafilatura decodes them itself).
"""
import gzip
import json
import os
import sys
import time

import trafilatura

data, out_path = sys.argv[1:3]
index = json.load(open(os.path.join(data, "evaldata-dev.json"), encoding="utf-8"))
pages = {}
for url, entry in index.items():
    with gzip.open(os.path.join(data, "html", entry["file"] + ".gz"), "rb") as f:
        pages[url] = f.read()

out = {}
start = time.perf_counter()
for url, html in pages.items():
    out[url] = trafilatura.extract(html, include_comments=False, include_tables=True) or ""
secs = time.perf_counter() - start
json.dump(out, open(out_path, "w", encoding="utf-8"))
print(f"{len(pages)} {secs:.3f}")
