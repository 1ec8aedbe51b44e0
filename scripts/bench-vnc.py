#!/usr/bin/env python3
"""The seat's VNC server (vigie-vnc) against x11vnc, side by side, on this machine.

    .build-venv/bin/python scripts/bench-vnc.py BUILD_DIR [SECONDS [RATE]]
    .build-venv/bin/python scripts/bench-vnc.py latency DEMO_STATE [SAMPLES]

BUILD_DIR holds vigie-dev and vigie-vnc (a release build). The first form starts
an Xvfb of its own at 1920x1080x24 and `vigie-dev bench thumbnail --scene` on it
(the demo desktop, a 760x460 window of text scrolling LINES lines a second and a
window moving across the screen), then measures, one server after the other,
with the same client and the same encodings (Tight, compression 9, JPEG
quality 5: what Veyon's master asks), requesting the next update as soon as one
has arrived:
  - updates per second delivered, bytes per second;
  - the server process's CPU per delivered update.
With RATE, the client asks for at most RATE updates a second (both servers
deliver the same number then, and their bytes per second compare directly).
vigie-vnc gets one end of a socket pair, as the agent gives it (no relay in
between); x11vnc (Debian's, the server Veyon and Epoptes use on Linux) listens
on 127.0.0.1.

The second form measures the whole remote view of a running demo (`vigie demo
start`): `vigie view` as the teacher, through the console's local endpoint and
the mutual-TLS stream to the seat's agent and its vigie-vnc; a window of the
script's own on the seat is filled with a new colour, and the time from X having
drawn it until the client has an update that carries it (a Tight fill of that
colour) is one sample.

Needs: Xvfb, x11vnc; the venv's `cryptography` for VNC authentication and
python-xlib (make deps).
"""
import json
import os
import random
import shlex
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rfbclient import Conn, cpu_seconds, free_display, free_port  # noqa: E402


def measure(conn, pid, seconds, rate=None):
    """Requests the next update as soon as one arrives, for `seconds`; with
    `rate`, no sooner than 1/rate s after the previous request (the same
    updates a second for both servers: their bytes compare directly)."""
    conn.request(incremental=False)
    conn.update()
    start_bytes, start_cpu, start = conn.count, cpu_seconds(pid), time.monotonic()
    updates = 0
    slot = start
    while time.monotonic() - start < seconds:
        if rate:
            slot += 1.0 / rate
            pause = slot - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        conn.request()
        if conn.update() > 0:
            updates += 1
    elapsed = time.monotonic() - start
    cpu = cpu_seconds(pid) - start_cpu
    return {"updates_per_s": updates / elapsed, "bytes_per_s": (conn.count - start_bytes) / elapsed,
            "cpu_ms_per_update": 1000 * cpu / max(1, updates), "cpu_percent": 100 * cpu / elapsed}


def side_by_side(build, seconds, rate=None):
    display = ":%d" % free_display()
    children = []
    try:
        xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        children.append(xvfb)
        while not os.path.exists("/tmp/.X11-unix/X" + display[1:]):
            time.sleep(0.05)
        scene = subprocess.Popen([os.path.join(build, "vigie-dev"), "bench", "thumbnail", "--display", display,
                                  "--scene", str(3 * seconds + 30), "--lines-per-second", "30", "--moving-window"],
                                 stdout=subprocess.PIPE, text=True)
        children.append(scene)
        if scene.stdout.readline().strip() != "ready":
            raise SystemExit("vigie-dev did not draw the scene")
        results = {}
        # vigie-vnc, on a socket pair as the agent gives it.
        ours, theirs = socket.socketpair()
        vnc = subprocess.Popen([os.path.join(build, "vigie-vnc"), "--display", display, "--fd", str(theirs.fileno()), "--mode", "view"],
                               pass_fds=[theirs.fileno()], stdin=subprocess.PIPE)
        children.append(vnc)
        theirs.close()
        vnc.stdin.write(b"\n")
        vnc.stdin.close()
        conn = Conn(ours)
        conn.handshake()
        results["vigie-vnc"] = measure(conn, vnc.pid, seconds, rate)
        ours.close()
        # x11vnc, on 127.0.0.1.
        port = free_port()
        x11vnc = subprocess.Popen(["x11vnc", "-display", display, "-rfbport", str(port), "-localhost", "-shared", "-forever",
                                   "-nopw", "-quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        children.append(x11vnc)
        for _ in range(200):
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=30)
                break
            except OSError:
                time.sleep(0.05)
        conn = Conn(sock)
        conn.handshake()
        results["x11vnc"] = measure(conn, x11vnc.pid, seconds, rate)
        sock.close()
        print("1920x1080, text scrolling 30 lines/s and a window moving, Tight q5, %d s each%s:" % (seconds, ", at most %g updates/s" % rate if rate else ""))
        for name, r in results.items():
            print("  %-10s %6.1f updates/s  %8.0f KB/s  %6.2f ms CPU per update  (%.0f %% of a core)"
                  % (name, r["updates_per_s"], r["bytes_per_s"] / 1000, r["cpu_ms_per_update"], r["cpu_percent"]))
        a, b = results["vigie-vnc"], results["x11vnc"]
        print("  ratios vigie-vnc/x11vnc: updates %.2f, bytes/s %.2f, CPU per update %.2f"
              % (a["updates_per_s"] / b["updates_per_s"], a["bytes_per_s"] / b["bytes_per_s"], a["cpu_ms_per_update"] / b["cpu_ms_per_update"]))
    finally:
        for child in reversed(children):
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


def latency(state, samples):
    env = dict(os.environ)
    for line in open(os.path.join(state, "env")):
        if line.startswith("export "):
            name, value = shlex.split(line[7:])[0].split("=", 1)
            env[name] = value.replace("$PATH", os.environ["PATH"])
    demo = json.load(open(os.path.join(state, "demo.json")))
    seat = next(s for s in demo["seats"] if s["room"] == "B204")
    view = subprocess.Popen(["vigie", "view", "--seat", seat["id"], "--no-viewer", "--json"], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        opened = json.loads(view.stdout.readline())
        port = int(opened["address"].rsplit(":", 1)[1])
        conn = Conn(socket.create_connection(("127.0.0.1", port), timeout=30))
        conn.handshake(opened["password"])
        conn.request(incremental=False)
        conn.update()
        # One request always waits at the server, as a viewer's does.
        conn.request()
        # A window of our own on the seat's display, filled with a new colour per sample
        # over one X connection kept open (python-xlib): the clock starts once X has drawn it.
        from Xlib import X, display as xdisplay
        d = xdisplay.Display(seat["display"])
        screen = d.screen()
        window = screen.root.create_window(100, 100, 240, 240, 0, screen.root_depth, X.InputOutput, X.CopyFromParent,
                                           override_redirect=True, background_pixel=0)
        window.map()
        gc = window.create_gc()
        d.sync()
        times = []
        for _ in range(samples):
            colour = random.randrange(1 << 24)
            want = bytes([colour >> 16, (colour >> 8) & 0xFF, colour & 0xFF])
            conn.fills = []
            gc.change(foreground=colour)
            window.fill_rectangle(gc, 0, 0, 240, 240)
            d.sync()
            t0 = time.monotonic()
            while want not in conn.fills:
                conn.update()
                conn.request()
            times.append(time.monotonic() - t0)
            time.sleep(random.uniform(0.05, 0.2))
        times.sort()
        p95 = times[max(0, int(round(0.95 * len(times))) - 1)]
        print("change on %s's screen → in the client, through vigie view (mutual TLS), %d samples:" % (seat["id"], samples))
        print("  median %.1f ms, p95 %.1f ms, max %.1f ms (from X having drawn it)"
              % (1000 * times[len(times) // 2], 1000 * p95, 1000 * times[-1]))
    finally:
        view.terminate()
        view.wait(timeout=10)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "latency":
        return latency(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 50)
    return side_by_side(sys.argv[1] if len(sys.argv) > 1 else ".build/release", int(sys.argv[2]) if len(sys.argv) > 2 else 20,
                        float(sys.argv[3]) if len(sys.argv) > 3 else None)


if __name__ == "__main__":
    main()
