#!/usr/bin/python3
"""Drives the `vigie watch` dashboard in a real Chromium (Selenium, chromedriver),
as a teacher would, for the integration test `DashboardInChromium`.

    dashboard-browser.py URL SEAT DISPLAY [SCREENSHOT.png]
    dashboard-browser.py URL --window SEAT

URL is the one-time address `vigie watch` printed; SEAT a seat to lock from the
page; DISPLAY that seat's X display (its screen is changed with xsetroot to see
its tile change). With --window: SEAT's tile shows a picture, then (its
monitoring window ending) no picture but the seat's reason, printed as
`ok tile-says-why TEXT`. Prints one line per step (`ok STEP detail` or `fail
STEP detail`) and exits 1 at the first failure.
"""
import base64
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

url = sys.argv[1]
window_mode = sys.argv[2] == "--window"
if window_mode:
    seat, display, shot = sys.argv[3], None, None
else:
    seat, display = sys.argv[2], sys.argv[3]
    shot = sys.argv[4] if len(sys.argv) > 4 else None
origin = "{0.scheme}://{0.netloc}".format(urlparse(url))


def step(ok, name, detail=""):
    print(("ok " if ok else "fail ") + name + " " + str(detail), flush=True)
    if not ok:
        sys.exit(1)


def wait(what, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        value = what()
        if value:
            return value
        time.sleep(0.1)
    return what()


def status(path, headers):
    request = urllib.request.Request(origin + path, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=5).status
    except urllib.error.HTTPError as e:
        return e.code


def tile_picture(driver):
    return driver.execute_script("""
        const img = document.querySelector('.tile[data-seat="%s"] .screen img');
        return img && img.complete && img.naturalWidth > 0 ? img.src : null;""" % seat)


def window_ends(driver):
    """A library seat's tile: a live picture, then the window's end in words."""
    driver.get(url)
    step(wait(lambda: driver.current_url.rstrip("/") == origin), "token-exchanged", driver.current_url)
    step(wait(lambda: tile_picture(driver), timeout=30), "tile-has-a-picture")
    why = """
        const t = document.querySelector('.tile[data-seat="%s"]');
        const w = t && t.querySelector('.screen .why');
        return t && t.dataset.state === 'paused' && !t.querySelector('.screen img') && w ? w.textContent : null;""" % seat
    text = wait(lambda: driver.execute_script(why), timeout=60)
    step(text, "tile-says-why", text)


def chromium():
    options = Options()
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1366,768", "--disable-dev-shm-usage"]:
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


if window_mode:
    driver = chromium()
    try:
        window_ends(driver)
    finally:
        driver.quit()
    sys.exit(0)

# Without the token (or its cookie), or from another Origin or Host: refused.
step(status("/", {}) == 403, "no-cookie-refused")
step(status("/open?token=wrong", {}) == 403, "wrong-token-refused")
step(status(urlparse(url).path + "?" + urlparse(url).query, {"Origin": "http://evil.example"}) == 403, "other-origin-refused")
step(status("/", {"Host": "evil.example"}) == 421, "other-host-refused")

driver = chromium()
try:
    driver.get(url)
    step(wait(lambda: driver.current_url.rstrip("/") == origin), "token-exchanged", driver.current_url)
    tiles = wait(lambda: driver.find_elements(By.CSS_SELECTOR, ".tile"))
    step(len(tiles) >= 1, "tiles", len(tiles))
    decoded = """
        return [...document.querySelectorAll('.tile')].map(t => {
          const img = t.querySelector('img');
          return [t.dataset.seat, img && img.complete && img.naturalWidth > 0 ? img.src : null];
        });"""
    seen = wait(lambda: all(src for _, src in driver.execute_script(decoded)) and driver.execute_script(decoded))
    step(seen, "every-tile-has-a-decoded-picture", seen)
    before = dict(driver.execute_script(decoded))[seat]
    subprocess.run(["xsetroot", "-solid", "#8e44ad", "-display", display], check=True)
    changed = wait(lambda: dict(driver.execute_script(decoded)).get(seat) not in (None, before))
    step(changed, "tile-changes-after-the-screen-changes")
    # A second use of the token is refused (the page already has its cookie).
    step(status(urlparse(url).path + "?" + urlparse(url).query, {}) == 403, "token-works-once")
    # Select the seat with the keyboard, then lock it with the page's button.
    box = driver.find_element(By.CSS_SELECTOR, '.tile[data-seat="%s"] input[type=checkbox]' % seat)
    box.send_keys(" ")
    step(box.is_selected(), "selected-with-the-keyboard")
    driver.find_element(By.ID, "lock").click()
    locked = wait(lambda: driver.execute_script(
        "return document.querySelector('.tile[data-seat=\"%s\"]').dataset.locked" % seat) == "1")
    step(locked, "page-says-locked")
    if shot:
        driver.save_screenshot(shot)
    print("ready-to-check-the-seat", flush=True)
    sys.stdin.readline()
finally:
    driver.quit()
