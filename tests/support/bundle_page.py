"""Opens an evidence bundle's index.html from disk (file://, offline) in
Debian's Chromium through chromedriver, checks that the headline change is
shown and that no script from the page's data ran, and saves a screenshot.

Usage: bundle_page.py INDEX.html OLD_TITLE NEW_TITLE SCREENSHOT.png
Exit 0, or 1 with the failed check on stderr.
"""
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

page, old, new, shot = sys.argv[1:5]
opts = Options()
opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-dev-shm-usage", "--window-size=1200,1600"):
    opts.add_argument(a)
opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=opts)
try:
    driver.get("file://" + os.path.abspath(page))
    change = driver.find_elements(By.CSS_SELECTOR, ".headline-change")
    if not change:
        print("FAIL: no .headline-change block; body: %s" % driver.find_element(By.TAG_NAME, "body").text[:500], file=sys.stderr)
        sys.exit(1)
    dels = [e.text for e in change[0].find_elements(By.TAG_NAME, "del")]
    inss = [e.text for e in change[0].find_elements(By.TAG_NAME, "ins")]
    if old not in dels or new not in inss:
        print("FAIL: headline change shows del=%r ins=%r, want %r -> %r" % (dels, inss, old, new), file=sys.stderr)
        sys.exit(1)
    if not change[0].is_displayed():
        print("FAIL: the headline change is not visible", file=sys.stderr)
        sys.exit(1)
    summary = driver.find_element(By.ID, "summary").text
    if "127.0.0.1" not in summary:
        print("FAIL: the summary does not name the address: %r" % summary, file=sys.stderr)
        sys.exit(1)
    if driver.execute_script("return window.__pwned === true"):
        print("FAIL: a script from the data ran", file=sys.stderr)
        sys.exit(1)
    severe = [l for l in driver.get_log("browser") if l["level"] == "SEVERE"]
    if severe:
        print("FAIL: console errors %r" % severe, file=sys.stderr)
        sys.exit(1)
    os.makedirs(os.path.dirname(shot), exist_ok=True)
    driver.save_screenshot(shot)
    print("screenshot: %s" % shot)
finally:
    driver.quit()
