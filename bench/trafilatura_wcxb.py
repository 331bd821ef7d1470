"""Runs Python trafilatura over the WCXB pages on one thread, with metadata.

Usage: trafilatura_wcxb.py WCXB_DIR OUT_PREDICTIONS.json
Writes {id: {text, title, author, date}}; prints one line: pages, seconds.
Extraction time only (files are read and decompressed before the clock).
"""
import gzip
import json
import os
import sys
import time

import trafilatura

wcxb, out_path = sys.argv[1:3]
pages = {}
for name in sorted(os.listdir(os.path.join(wcxb, "ground-truth"))):
    pid = name[:-5]
    gt = json.load(open(os.path.join(wcxb, "ground-truth", name), encoding="utf-8"))
    with gzip.open(os.path.join(wcxb, "html", pid + ".html.gz"), "rb") as f:
        pages[pid] = (f.read().decode("utf-8", errors="replace"), gt.get("url"))

out = {}
start = time.perf_counter()
for pid, (html, url) in pages.items():
    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_tables=True)
    if doc is None:
        out[pid] = {"text": "", "title": None, "author": None, "date": None}
        continue
    get = (lambda k: doc.get(k)) if isinstance(doc, dict) else (lambda k: getattr(doc, k, None))
    out[pid] = {"text": get("text") or "", "title": get("title"), "author": get("author"), "date": get("date")}
secs = time.perf_counter() - start
json.dump(out, open(out_path, "w", encoding="utf-8"))
print(f"{len(pages)} {secs:.3f}")
