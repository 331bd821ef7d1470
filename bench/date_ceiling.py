#!/usr/bin/env python3
"""What a publication date read from the page can reach on WCXB's article pages.

For every article page with a gold date, says whether the gold day is written
anywhere in the page's HTML (visible text, attributes, scripts, structured
data) or in its URL, in any of the common date formats below; a page whose
gold day is in none of them cannot be answered from the page, by any rule.
Then sorts newsledger's misses (from `extract-eval --write-predictions`) by
where the gold day is: the page's structured `datePublished`, its
`dateModified`, a `<time datetime>`, or elsewhere in the page.

    target/release/extract-eval --wcxb ../shared/datasets/wcxb-dev --write-predictions P.json
    python3 bench/date_ceiling.py P.json [WCXB_DIR]

Standard library only. A format missing from the list below makes the
ceiling look lower than it is: the script reports the pages it calls
absent whose day newsledger nonetheless gets right, as a measure of that.
"""

import gzip
import json
import os
import re
import sys

MONTHS = ["January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December"]


def day(text):
    m = re.search(r"(\d{4})-(\d{2})-(\d{2})", text or "")
    return m.group(0) if m else None


def written(d):
    """The ways a page may write the day `d` (YYYY-MM-DD)."""
    y, m, dd = int(d[:4]), int(d[5:7]), int(d[8:10])
    full, abbr = MONTHS[m - 1], MONTHS[m - 1][:3]
    return [
        d, f"{y}/{m:02d}/{dd:02d}", f"{y}.{m:02d}.{dd:02d}", f"{y}{m:02d}{dd:02d}",
        f"{full} {dd}, {y}", f"{full} {dd} {y}", f"{dd} {full} {y}", f"{dd} {full}, {y}",
        f"{abbr} {dd}, {y}", f"{abbr}. {dd}, {y}", f"{abbr} {dd} {y}", f"{dd} {abbr} {y}",
        f"{dd}-{abbr}-{y}", f"{y} {abbr} {dd}",
        f"{dd:02d}/{m:02d}/{y}", f"{m:02d}/{dd:02d}/{y}", f"{m}/{dd}/{y}", f"{dd}/{m}/{y}",
        f"{dd}.{m}.{y}", f"{dd:02d}.{m:02d}.{y}", f"{dd:02d}-{m:02d}-{y}", f"{m:02d}-{dd:02d}-{y}",
    ]


def structured(html, key):
    """Days a page's JSON-LD or meta tags give for `key` (datePublished, dateModified)."""
    meta = {"datePublished": "published_time", "dateModified": "modified_time"}[key]
    found = re.findall(r'"%s"\s*:\s*"([^"]+)"' % key, html)
    found += re.findall(r'(?:itemprop="%s"|property="article:%s")[^>]*content="([^"]+)"' % (key, meta), html)
    found += re.findall(r'content="([^"]+)"[^>]*(?:itemprop="%s"|property="article:%s")' % (key, meta), html)
    return {day(f) for f in found} - {None}


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    pred = json.load(open(sys.argv[1], encoding="utf-8"))
    root = sys.argv[2] if len(sys.argv) > 2 else "../shared/datasets/wcxb-dev"
    gt_dir = os.path.join(root, "ground-truth")
    pages = right = 0
    absent, absent_right, misses = [], [], {}
    # Pages we get right whose structured data names another day: what a
    # rule preferring that structured date would lose.
    would_lose = {"datePublished": 0, "dateModified": 0}
    for name in sorted(os.listdir(gt_dir)):
        pid = name[:-5]
        g = json.load(open(os.path.join(gt_dir, name), encoding="utf-8"))
        if g.get("_internal", {}).get("page_type", {}).get("primary") != "article":
            continue
        gold = day(g["ground_truth"].get("publish_date"))
        if not gold:
            continue
        pages += 1
        ours = day((pred.get(pid) or {}).get("date"))
        right += ours == gold
        html = gzip.open(os.path.join(root, "html", pid + ".html.gz")).read().decode("utf-8", "replace")
        low = html.lower()
        url = g.get("url") or ""
        present = any(w.lower() in low for w in written(gold)) or gold.replace("-", "/") in url
        if not present:
            absent.append(pid)
            if ours == gold:
                absent_right.append(pid)
            continue
        if ours == gold:
            for key in would_lose:
                days = structured(html, key)
                would_lose[key] += bool(days) and gold not in days
            continue
        if ours is None:
            kind = "no date read"
        elif gold in structured(html, "datePublished"):
            kind = "gold is the structured datePublished, we read another date"
        elif gold in structured(html, "dateModified"):
            kind = "gold is the structured dateModified"
        elif gold in {day(t) for t in re.findall(r'<time[^>]*datetime="([^"]+)"', html)}:
            kind = "gold is another <time>"
        else:
            kind = "gold written elsewhere in the page"
        misses.setdefault(kind, []).append(pid)
    print(f"article pages with a gold date: {pages}")
    print(f"newsledger same day: {right} ({right / pages:.3f})")
    print(f"gold day written nowhere in the page or its URL: {len(absent)}"
          f" (of them newsledger right anyway: {len(absent_right)}, a format this script misses)")
    lo = (pages - len(absent)) / pages
    hi = (pages - len(absent) + len(absent_right)) / pages
    print(f"ceiling of any rule that reads the page: {lo:.3f} to {hi:.3f}")
    print(f"misses with the gold day in the page: {sum(len(v) for v in misses.values())}")
    for kind, pids in sorted(misses.items(), key=lambda kv: -len(kv[1])):
        print(f"  {kind}: {len(pids)} ({' '.join(pids)})")
    for key, n in would_lose.items():
        print(f"right pages whose structured {key} is another day (a rule preferring it loses them): {n}")


if __name__ == "__main__":
    main()
