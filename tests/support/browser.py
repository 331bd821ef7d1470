"""Drives Debian's Chromium through chromedriver against `newsledger serve`
(tests/web.rs starts both the site and the server; this script only reads).

Usage: browser.py SPEC.json   (base, article, added, removed, phrase,
revision, screenshots). Exit 0, or 1 with the first failed check on stderr.
"""
import json
import os
import sys
import urllib.parse

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

spec = json.load(open(sys.argv[1]))
base, article = spec["base"], spec["article"]
shots = spec["screenshots"]
os.makedirs(shots, exist_ok=True)

opts = Options()
opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-dev-shm-usage", "--window-size=1280,900"):
    opts.add_argument(a)
opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=opts)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def errors(allow_raw=False):
    out = []
    for entry in driver.get_log("browser"):
        if entry["level"] != "SEVERE":
            continue
        if allow_raw and "/raw?" in entry["message"]:
            continue  # the hostile capture's blocked loads, reported by its sandboxed frame
        out.append(entry["message"])
    return out


def shoot(name):
    driver.set_window_size(1280, 900)
    driver.save_screenshot(os.path.join(shots, name + "-desktop.png"))
    driver.set_window_size(390, 844)
    driver.save_screenshot(os.path.join(shots, name + "-phone.png"))
    width = driver.execute_script("return document.documentElement.scrollWidth")
    check(width <= 400, "%s: the page is %dpx wide on a 390px phone" % (name, width))
    driver.set_window_size(1280, 900)


q = urllib.parse.quote
try:
    # The changes feed lists the flagged edit.
    driver.get(base + "/")
    rows = [r.text for r in driver.find_elements(By.TAG_NAME, "tr")]
    check(any("changed" in r and article in r for r in rows), "the changes feed lists the edit: %r" % rows)
    found = errors()
    check(found == [], "console errors on the feed: %r" % found)
    shoot("changes")

    # Each row carries its substance: the headline change shows old -> new,
    # the comma-only edit is trivial, the changed number substantive.
    def row_of(link_part):
        for r in driver.find_elements(By.CSS_SELECTOR, "table.changes tr"):
            links = [a.get_attribute("href") or "" for a in r.find_elements(By.TAG_NAME, "a")]
            if any(link_part in l for l in links):
                return r
        return None
    headline = row_of("from=4&to=5")
    check(headline is not None, "the feed has the headline change")
    if headline is not None:
        dels = [e.text for e in headline.find_elements(By.TAG_NAME, "del")]
        inss = [e.text for e in headline.find_elements(By.TAG_NAME, "ins")]
        check(spec["title"] in dels and spec["new_title"] in inss,
              "headline row shows old -> new: %r -> %r" % (dels, inss))
    comma, number = row_of("from=2&to=3"), row_of("from=3&to=4")
    check(comma is not None and "trivial" in comma.text, "the comma-only edit is trivial: %r" % (comma.text if comma else None))
    check(number is not None and "substantive" in number.text, "the changed number is substantive: %r" % (number.text if number else None))
    # The row's link opens exactly that change (not the article's latest).
    first = row_of("from=1&to=2")
    check(first is not None, "the feed has the first edit")
    if first is not None:
        first.find_element(By.CSS_SELECTOR, "td a").click()
        ins = [e.text for e in driver.find_elements(By.TAG_NAME, "ins")]
        dels = [e.text for e in driver.find_elements(By.TAG_NAME, "del")]
        check(ins == spec["added"] and dels == spec["removed"],
              "the row opened its own change: +%r -%r" % (ins, dels))
        check("from=1" in driver.current_url and "to=2" in driver.current_url, driver.current_url)
    # A one-word edit, collapsed, fits two phone screens.
    driver.set_window_size(390, 844)
    driver.get("%s/article?url=%s&from=3&to=4" % (base, q(article, safe="")))
    height = driver.execute_script("return document.documentElement.scrollHeight")
    inner = driver.execute_script("return window.innerHeight")
    check(height <= 2 * inner, "the one-word diff is %dpx high on a %dpx phone screen" % (height, inner))
    driver.save_screenshot(os.path.join(shots, "one-word-edit-phone.png"))
    driver.set_window_size(1280, 900)
    found = errors()
    check(found == [], "console errors on the change pages: %r" % found)

    # The article page highlights exactly the added and removed words.
    for view in ("inline", "side"):
        driver.get("%s/article?url=%s&view=%s&from=1&to=2" % (base, q(article, safe=""), view))
        ins = [e.text for e in driver.find_elements(By.TAG_NAME, "ins")]
        dels = [e.text for e in driver.find_elements(By.TAG_NAME, "del")]
        check(ins == spec["added"], "%s: inserted %r, expected %r" % (view, ins, spec["added"]))
        check(dels == spec["removed"], "%s: deleted %r, expected %r" % (view, dels, spec["removed"]))
        found = errors()
        check(found == [], "console errors on the article page: %r" % found)
        shoot("article-" + view)

    # Search finds the sentence in the right revision.
    driver.get("%s/search?q=%s" % (base, q(spec["phrase"])))
    body = driver.find_element(By.TAG_NAME, "body").text
    check("First in revision %d" % spec["revision"] in body, "search: %r" % body[:400])
    found = errors()
    check(found == [], "console errors on search: %r" % found)
    shoot("search")

    # The revision page frames the capture in a sandbox: its script never runs.
    driver.get("%s/revision?url=%s&rev=1" % (base, q(article, safe="")))
    shoot("revision")
    frames = driver.find_elements(By.TAG_NAME, "iframe")
    check(len(frames) == 1, "the capture is framed")
    found = errors(allow_raw=True)
    check(found == [], "console errors on the revision page: %r" % found)
    driver.switch_to.frame(frames[0])
    inner = driver.find_element(By.TAG_NAME, "body").text
    check("PWNED" not in inner, "script ran inside the framed capture")
    driver.switch_to.default_content()
    check(driver.title.find("PWNED") < 0, "the capture's script changed the parent page")
    # Opened directly, the capture is still sandboxed by its CSP header.
    driver.get("%s/raw?url=%s&rev=1" % (base, q(article, safe="")))
    check("PWNED" not in driver.find_element(By.TAG_NAME, "body").text, "script ran in the capture opened directly")
    check(driver.title != "PWNED", "the capture's script set the title")
    errors(allow_raw=True)  # the capture's own blocked loads: expected, and drained here

    for page in ("/articles", "/sources", "/status", "/feed.atom"):
        driver.get(base + page)
        found = errors()
        check(found == [], "console errors on %s: %r" % (page, found))
    shoot("ledger")
finally:
    driver.quit()

if failures:
    print("%d browser check(s) failed" % len(failures), file=sys.stderr)
    sys.exit(1)
print("browser checks passed; screenshots in", shots)
