#!/usr/bin/env python3
"""The assistance's two figures on a running demo school (`vigie demo start`).

    .build-venv/bin/python scripts/bench-assist.py DEMO_STATE [SAMPLES]

As the demo's admin, `vigie assist --seat SEAT --reason … --control` against the
demo's first seat (someone is logged in there), SAMPLES times:
  - consent shown: from starting the command to the consent window mapped on
    the seat's display (X MapNotify, seen by a client of this script's own);
  - « Arrêter » to stream closed: the script accepts both questions (a click on
    « Accepter » through XTEST, to the view, then to the control), waits for the banner, clicks its button, and stops the clock when
    the console prints the stream's end (`state: ended`).
Needs python-xlib (make deps).
"""
import json
import os
import re
import statistics
import subprocess
import sys
import time

from Xlib import X, display as xdisplay
from Xlib.ext import xtest


def env_of(state, who="admin"):
    """The demo's environment file for `who`: `export NAME='value'` lines (PATH prepended)."""
    env = dict(os.environ)
    with open(os.path.join(state, "env." + who)) as f:
        for line in f:
            m = re.match(r"export (\w+)='([^']*)'(:\"\$PATH\")?", line.strip())
            if m:
                env[m.group(1)] = m.group(2) + (":" + os.environ["PATH"] if m.group(3) else "")
    env["LANG"] = "fr_FR.UTF-8"
    return env


def wait_map(d, instance, deadline):
    """The first window mapped whose WM_CLASS instance is `instance`."""
    while time.monotonic() < deadline:
        while d.pending_events():
            e = d.next_event()
            if e.type == X.MapNotify:
                try:
                    cls = e.window.get_wm_class()
                except Exception:
                    cls = None
                if cls and cls[0] == instance:
                    return e.window, time.monotonic()
        time.sleep(0.001)
    raise SystemExit("no %s window within the deadline" % instance)


def main():
    state = sys.argv[1]
    samples = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    seat = json.load(open(os.path.join(state, "demo.json")))["seats"][0]
    env = env_of(state)
    d = xdisplay.Display(seat["display"])
    d.screen().root.change_attributes(event_mask=X.SubstructureNotifyMask)
    d.sync()
    shown, stopped = [], []
    for _ in range(samples):
        t0 = time.monotonic()
        p = subprocess.Popen(["vigie", "assist", "--seat", seat["id"], "--reason", "mesure", "--control", "--no-viewer", "--json"],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        window, t1 = wait_map(d, "vigie-consent", t0 + 30)
        shown.append(1000 * (t1 - t0))
        # A click on « Accepter » (the right-hand button), to the view, then to the control.
        for question in range(2):
            if question:
                window, _ = wait_map(d, "vigie-consent", time.monotonic() + 30)
            g = window.get_geometry()
            xtest.fake_input(d, X.MotionNotify, x=g.x + g.width - 60, y=g.y + g.height - 40)
            d.sync()
            time.sleep(0.05)
            xtest.fake_input(d, X.ButtonPress, 1)
            xtest.fake_input(d, X.ButtonRelease, 1)
            d.sync()
        answer = json.loads(p.stdout.readline())
        if answer.get("code") != "assist.started":
            raise SystemExit("not started: %s" % answer)
        banner, _ = wait_map(d, "vigie-assist", time.monotonic() + 30)
        bg = banner.get_geometry()
        xtest.fake_input(d, X.MotionNotify, x=bg.x + bg.width - 25, y=bg.y + bg.height // 2)
        d.sync()
        t2 = time.monotonic()
        xtest.fake_input(d, X.ButtonPress, 1)
        xtest.fake_input(d, X.ButtonRelease, 1)
        d.sync()
        ended = json.loads(p.stdout.readline())
        t3 = time.monotonic()
        if ended.get("code") != "assist.ended-by-person":
            raise SystemExit("not ended by the person: %s" % ended)
        stopped.append(1000 * (t3 - t2))
        p.wait(timeout=10)
        time.sleep(0.5)  # the end notice, before the next round

    def p95(v):
        return sorted(v)[max(0, int(round(0.95 * len(v))) - 1)]
    print("%d samples on %s" % (samples, seat["id"]))
    print("  consent window shown after the command: median %.0f ms, p95 %.0f ms, max %.0f ms"
          % (statistics.median(shown), p95(shown), max(shown)))
    print("  « Arrêter » to the stream closed at the console: median %.0f ms, p95 %.0f ms, max %.0f ms"
          % (statistics.median(stopped), p95(stopped), max(stopped)))


if __name__ == "__main__":
    main()
