#!/usr/bin/env python3
"""Bytes per seat per minute: Vigie's live overview against what Veyon's
overview costs, on the same scrolling scene, on this machine.

    scripts/bench-veyon.py BUILD_DIR [SECONDS]

BUILD_DIR holds vigie-dev (a release build). Starts an Xvfb of its own at
1920x1080x24 and `vigie-dev bench thumbnail --scene SECONDS` on it, which draws
the reference scene (the demo desktop, a 760x460 window of text scrolling ten
lines a second) and counts the bytes of a 1-picture-a-second, 320-px live view.

Veyon's side, on the same display at the same time: Veyon's server is x11vnc
built in (its 3rdparty/x11vnc, on LibVNCServer), so Debian's x11vnc stands in
for it, and this script is the master's VNC client with the settings Veyon's
master uses for its overview (core/src/VncConnection.cpp and
VeyonConfigurationProperties.h, Veyon 4.x, defaults): encodings "tight zywrle
zrle ultra", compression level 9, JPEG quality 5 (Medium), one incremental
full-resolution framebuffer update requested per second
(ComputerMonitoringUpdateInterval 1000 ms), 32-bit pixels; the picture is
scaled on the teacher's machine. It counts every byte the server sends, after
the first full picture (reported apart).

Needs: Xvfb, x11vnc (apt-get install x11vnc).
"""
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rfbclient import Conn, cpu_seconds, free_display, free_port  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else ".build/release"
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0


def veyon_like_client(port, seconds):
    conn = Conn(socket.create_connection(("127.0.0.1", port), timeout=30))
    # "tight zywrle zrle ultra", then compression 9, JPEG quality 5, LastRect, DesktopSize.
    conn.handshake(encodings=[7, 17, 16, 9, -256 + 9, -32 + 5, -224, -223])
    conn.request(incremental=False)
    conn.update()
    first, conn.area = conn.count, 0
    begin = time.monotonic()
    updates = 0
    while time.monotonic() - begin < seconds:
        tick = time.monotonic()
        conn.request()
        conn.update()
        updates += 1
        rest = 1.0 - (time.monotonic() - tick)
        if rest > 0:
            time.sleep(rest)
    elapsed = time.monotonic() - begin
    conn.sock.close()
    return {"first": first, "bytes": conn.count - first, "updates": updates, "seconds": elapsed,
            "width": conn.width, "height": conn.height, "area": conn.area / max(1, updates)}


def main():
    display = ":%d" % free_display()
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children = [xvfb]
    try:
        for _ in range(100):
            if os.path.exists("/tmp/.X11-unix/X" + display[1:]):
                break
            time.sleep(0.05)
        # Vigie draws the scene and measures its own stream; the VNC client starts once the scene is up.
        vigie = subprocess.Popen([os.path.join(BUILD, "vigie-dev"), "bench", "thumbnail", "--display", display,
                                  "--scene", str(SECONDS + 15)], stdout=subprocess.PIPE, text=True)
        children.append(vigie)
        if vigie.stdout.readline().strip() != "ready":
            raise SystemExit("vigie-dev did not draw the scene")
        port = free_port()
        x11vnc = subprocess.Popen(["x11vnc", "-display", display, "-rfbport", str(port), "-localhost", "-shared",
                                   "-forever", "-nopw", "-quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        children.append(x11vnc)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        cpu_before = cpu_seconds(x11vnc.pid)
        veyon = veyon_like_client(port, SECONDS)
        x11vnc_cpu = (cpu_seconds(x11vnc.pid) - cpu_before) / veyon["seconds"]
        out, _ = vigie.communicate(timeout=60)
        fields = out.split()
        vigie_bytes, vigie_seconds = int(fields[fields.index("bytes") + 1]), float(fields[fields.index("seconds") + 1])
        vigie_frames = int(fields[fields.index("frames") + 1])
        per_minute_vigie = vigie_bytes * 60 / vigie_seconds
        per_minute_veyon = veyon["bytes"] * 60 / veyon["seconds"]
        print("scene: %dx%d, a text window scrolling 10 lines/s, %.0f s" % (veyon["width"], veyon["height"], veyon["seconds"]))
        print("vigie (320-px JPEG, 1/s):          %8.0f KB/min  (%d pictures in %.0f s)" % (per_minute_vigie / 1000, vigie_frames, vigie_seconds))
        print("veyon-like (x11vnc, Tight q5, 1/s): %8.0f KB/min  (%d updates of %.0f pixels on average; first full picture %.0f KB apart)"
              % (per_minute_veyon / 1000, veyon["updates"], veyon["area"], veyon["first"] / 1000))
        print("x11vnc CPU on the seat: %.1f %% of one core" % (x11vnc_cpu * 100))
        print("ratio: %.1f" % (per_minute_veyon / per_minute_vigie if per_minute_vigie else float("nan")))
    finally:
        for child in reversed(children):
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    main()
