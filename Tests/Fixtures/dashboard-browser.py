#!/usr/bin/python3
"""Drives the `vigie watch` dashboard in a real Chromium (Selenium, chromedriver),
as a teacher would, for the integration test `DashboardInChromium`.

    dashboard-browser.py URL SEAT DISPLAY [SCREENSHOT.png]
    dashboard-browser.py URL --window SEAT
    dashboard-browser.py URL --remote SEAT DISPLAY PYTHON COMPARE OUTDIR
    dashboard-browser.py URL --assist SEAT CODE DESCRIPTION GO [SCREENSHOT.png]

URL is the one-time address `vigie watch` printed; SEAT a seat to lock from the
page; DISPLAY that seat's X display (its screen is changed with xsetroot to see
its tile change). With --window: SEAT's tile shows a picture, then (its
monitoring window ending) no picture but the seat's reason, printed as
`ok tile-says-why TEXT`. With --remote: a click on SEAT's tile opens it full
size through noVNC; once connected, it awaits a canvas whose pixels match an
`xwd -root` of DISPLAY taken at the same time (PYTHON COMPARE is the command
comparing a PNG with an xwd, `diff MEAN`), then takes control with « Prendre
la main », types "Ok" with the pointer at (12, 470) of the seat's screen,
prints `typed`, and awaits the page saying the connection to the seat was lost
(the test cuts the seat off). With --assist (a technician's page): SEAT's help
request is listed with DESCRIPTION; « Aider… » and CODE open the seat once the
person accepts (the test answers on the seat), « Demander la main » is asked
and given, "Ok" is typed, then (once the file GO exists) « Fermer » opens the intervention sheet, which
is filled in and saved (`ok sheet-saved MESSAGE`). Prints one line per step (`ok STEP detail` or `fail
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
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By

url = sys.argv[1]
window_mode = sys.argv[2] == "--window"
remote_mode = sys.argv[2] == "--remote"
assist_mode = sys.argv[2] == "--assist"
if window_mode:
    seat, display, shot = sys.argv[3], None, None
elif remote_mode:
    seat, display, python, compare, outdir = sys.argv[3:8]
elif assist_mode:
    seat, code, description, go = sys.argv[3:7]
    display, shot = None, (sys.argv[7] if len(sys.argv) > 7 else None)
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


def remote_state(driver):
    return driver.execute_script("""
        const r = document.getElementById('remote');
        return r.hidden ? null : [r.dataset.mode, r.dataset.state, document.getElementById('rstatus').textContent];""")


def canvas_png(driver, path):
    data = driver.execute_script("""
        const c = document.querySelector('#rscreen canvas');
        return c && c.width > 0 ? c.toDataURL('image/png') : null;""")
    if not data:
        return False
    with open(path, "wb") as f:
        f.write(base64.b64decode(data.split(",", 1)[1]))
    return True


def remote(driver):
    """One seat full size through noVNC, then in control, then cut off."""
    driver.get(url)
    step(wait(lambda: driver.current_url.rstrip("/") == origin), "token-exchanged", driver.current_url)
    step(wait(lambda: tile_picture(driver), timeout=30), "tile-has-a-picture")
    driver.find_element(By.CSS_SELECTOR, '.tile[data-seat="%s"] .screen' % seat).click()
    state = wait(lambda: (remote_state(driver) or [None, None])[1] in ("connected", "refused", "failed", "lost") and remote_state(driver), 30)
    step(state and state[:2] == ["view", "connected"], "remote-connected", state)
    step(driver.find_element(By.ID, "takeover").is_displayed(), "takeover-offered")
    # The canvas comes to match the seat's screen as X has it (the seat's notice
    # appears after the view starts: both are taken again until they agree).
    png, xwd = outdir + "/canvas.png", outdir + "/root.xwd"
    last = [None]

    def matches():
        if not canvas_png(driver, png):
            return False
        subprocess.run(["xwd", "-root", "-display", display, "-out", xwd], check=True)
        out = subprocess.run([python, "-W", "ignore", compare, "compare", png, xwd], capture_output=True, text=True).stdout.split()
        last[0] = out
        # noVNC asks Tight with JPEG (quality 6): a mean error of a few levels on
        # stripes and text; another picture, or none, is tens of levels off.
        return len(out) > 1 and out[0] == "diff" and float(out[1]) < 8.0
    step(wait(matches, 30), "canvas-matches-the-seat", last[0])
    # « Prendre la main »: a control stream, the keyboard and pointer pass.
    driver.find_element(By.ID, "takeover").click()
    state = wait(lambda: (remote_state(driver) or [None, None])[:2] == ["control", "connected"] and remote_state(driver), 30)
    step(state, "control-connected", remote_state(driver))
    type_on_the_seat(driver, "Ok")
    print("typed", flush=True)
    state = wait(lambda: (remote_state(driver) or [None, None])[1] == "lost" and remote_state(driver), 60)
    step(state, "lost-reported", state and state[2])


def type_on_the_seat(driver, text):
    canvas = driver.find_element(By.CSS_SELECTOR, "#rscreen canvas")
    size = driver.execute_script("""
        const c = document.querySelector('#rscreen canvas'), r = c.getBoundingClientRect();
        return [c.width, c.height, r.width, r.height];""")
    # Selenium's offsets are from the element's centre, in CSS pixels.
    dx = 12 * size[2] / size[0] - size[2] / 2
    dy = 470 * size[3] / size[1] - size[3] / 2
    ActionChains(driver).move_to_element_with_offset(canvas, int(dx), int(dy)).click().send_keys(text).perform()


def assist(driver):
    """A technician helps from the page: the request, the code, control, the sheet."""
    driver.get(url)
    step(wait(lambda: driver.current_url.rstrip("/") == origin), "token-exchanged", driver.current_url)
    row = '#helplist li[data-seat="%s"]' % seat
    listed = wait(lambda: driver.execute_script("const li = document.querySelector(arguments[0]); return li && li.textContent;", row), 30)
    step(listed and description in listed, "help-listed", listed)
    driver.find_element(By.CSS_SELECTOR, row + " button").click()
    driver.find_element(By.ID, "code").send_keys(code)
    driver.find_element(By.ID, "connect").click()
    state = wait(lambda: remote_state(driver), 10)
    step(state and state[1] == "connecting", "assist-asked", state)
    state = wait(lambda: (remote_state(driver) or [None, None])[1] in ("connected", "refused", "failed", "lost") and remote_state(driver), 90)
    step(state and state[:2] == ["view", "connected"], "assist-connected", state and state[2])
    step(driver.find_element(By.ID, "takeover").is_displayed(), "control-offered")
    driver.find_element(By.ID, "takeover").click()
    print("control-asked", flush=True)
    state = wait(lambda: (remote_state(driver) or [None])[0] == "control" and remote_state(driver), 90)
    step(state, "control-given", remote_state(driver))
    if shot:
        driver.save_screenshot(shot)
    type_on_the_seat(driver, "Ok")
    print("typed", flush=True)
    # The test saw the keys on the seat.
    import os
    wait(lambda: os.path.exists(go), 60)
    driver.find_element(By.ID, "rclose").click()
    opened = wait(lambda: driver.find_element(By.ID, "sheet").is_displayed(), 10)
    step(opened, "sheet-opened", driver.find_element(By.ID, "sheettitle").text)
    for name, text in [("problem", "Imprimante absente"), ("diagnosis", "Pilote réinstallé"), ("before", "Aucune imprimante"),
                       ("after", "Impression possible"), ("advice", "Redémarrer si cela revient")]:
        driver.find_element(By.CSS_SELECTOR, '#sheetform textarea[name="%s"]' % name).send_keys(text)
    driver.find_element(By.ID, "save").click()
    saved = wait(lambda: driver.execute_script("return document.getElementById('sheet').dataset.saved"), 30)
    step(saved == "1", "sheet-saved", driver.find_element(By.ID, "sheetstatus").text)


def chromium():
    options = Options()
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1366,768", "--disable-dev-shm-usage"]:
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


if window_mode or remote_mode or assist_mode:
    driver = chromium()
    try:
        (window_ends if window_mode else remote if remote_mode else assist)(driver)
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
