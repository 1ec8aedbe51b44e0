#!/usr/bin/python3
"""Probe, as the pupil: is the keyboard held by someone else on this display?
Tries XGrabKeyboard on the root window and lets go at once if it succeeds.

    grab-probe.py once              prints "held" (AlreadyGrabbed/Frozen) or "free"
    grab-probe.py until held|free TIMEOUT
                                    polls every 10 ms; prints "held"/"free" and the
                                    seconds it took as soon as it is so; exit 1 on timeout
"""
import sys
import time
from Xlib import X, display

d = display.Display()
root = d.screen().root


def state():
    s = root.grab_keyboard(False, X.GrabModeAsync, X.GrabModeAsync, X.CurrentTime)
    if s == X.GrabSuccess:
        d.ungrab_keyboard(X.CurrentTime)
        d.sync()
        return "free"
    return "held"


if sys.argv[1] == "once":
    print(state())
    sys.exit(0)
want, timeout = sys.argv[2], float(sys.argv[3])
print("ready", flush=True)
t0 = time.monotonic()
while time.monotonic() - t0 < timeout:
    if state() == want:
        print(f"{want} {time.monotonic() - t0:.3f}", flush=True)
        sys.exit(0)
    time.sleep(0.01)
print("timeout", flush=True)
sys.exit(1)
