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
import struct
import subprocess
import sys
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else ".build/release"
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 60.0


def free_display():
    for n in range(70, 99):
        if not os.path.exists("/tmp/.X11-unix/X%d" % n) and not os.path.exists("/tmp/.X%d-lock" % n):
            return n
    raise SystemExit("no free X display number")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Counting:
    """A socket reader that counts every byte received."""

    def __init__(self, sock):
        self.sock = sock
        self.count = 0

    def read(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError("the VNC server closed the connection")
            data += chunk
        self.count += n
        return data


def compact_length(r):
    b = r.read(1)[0]
    n = b & 0x7F
    if b & 0x80:
        b = r.read(1)[0]
        n |= (b & 0x7F) << 7
        if b & 0x80:
            n |= r.read(1)[0] << 14
    return n


def tight_rect(r, w, h):
    """Reads one Tight rectangle (32-bit pixels, depth 24: 3-byte TPIXELs)."""
    control = r.read(1)[0] >> 4
    if control == 0x8:  # fill
        r.read(3)
        return
    if control == 0x9:  # JPEG
        r.read(compact_length(r))
        return
    if control > 0x9:
        raise ValueError("bad Tight compression control %x" % control)
    filter_id = r.read(1)[0] if control & 0x4 else 0
    if filter_id == 1:  # palette
        colours = r.read(1)[0] + 1
        r.read(colours * 3)
        size = ((w + 7) // 8) * h if colours == 2 else w * h
    elif filter_id in (0, 2):  # copy, gradient
        size = w * h * 3
    else:
        raise ValueError("bad Tight filter %d" % filter_id)
    if size < 12:
        r.read(size)
    else:
        r.read(compact_length(r))


def read_update(r):
    """Reads server messages until one framebuffer update is complete; returns
    the area (pixels) it covered."""
    area = 0
    while True:
        kind = r.read(1)[0]
        if kind == 0:  # FramebufferUpdate
            _, rects = struct.unpack(">BH", r.read(3))
            for _ in range(rects):
                x, y, w, h, enc = struct.unpack(">HHHHi", r.read(12))
                if enc >= 0:
                    area += w * h
                if enc == 7:
                    tight_rect(r, w, h)
                elif enc == 0:
                    r.read(w * h * 4)
                elif enc == -224:  # LastRect
                    break
                elif enc == -223:  # DesktopSize
                    pass
                else:
                    raise ValueError("unexpected encoding %d" % enc)
            return area
        if kind == 2:  # Bell
            continue
        if kind == 3:  # ServerCutText
            r.read(3)
            r.read(struct.unpack(">I", r.read(4))[0])
            continue
        raise ValueError("unexpected server message %d" % kind)


def veyon_like_client(port, seconds):
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    r = Counting(sock)
    r.read(12)
    sock.sendall(b"RFB 003.008\n")
    types = r.read(r.read(1)[0])
    if 1 not in types:
        raise SystemExit("the VNC server wants authentication: %r" % types)
    sock.sendall(b"\x01")
    if struct.unpack(">I", r.read(4))[0] != 0:
        raise SystemExit("VNC security handshake failed")
    sock.sendall(b"\x01")  # shared
    width, height = struct.unpack(">HH", r.read(4))
    r.read(16)
    r.read(struct.unpack(">I", r.read(4))[0])
    # 32 bpp, depth 24, little-endian true colour, as libvncclient asks by default.
    sock.sendall(struct.pack(">BxxxBBBBHHHBBBxxx", 0, 32, 24, 0, 1, 255, 255, 255, 16, 8, 0))
    # "tight zywrle zrle ultra", then compression 9, JPEG quality 5, LastRect, DesktopSize.
    encodings = [7, 17, 16, 9, -256 + 9, -32 + 5, -224, -223]
    sock.sendall(struct.pack(">BxH", 2, len(encodings)) + b"".join(struct.pack(">i", e) for e in encodings))
    # The first, full picture.
    sock.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, width, height))
    read_update(r)
    first = r.count
    begin = time.monotonic()
    updates = 0
    area = 0
    while time.monotonic() - begin < seconds:
        tick = time.monotonic()
        sock.sendall(struct.pack(">BBHHHH", 3, 1, 0, 0, width, height))
        area += read_update(r)
        updates += 1
        rest = 1.0 - (time.monotonic() - tick)
        if rest > 0:
            time.sleep(rest)
    elapsed = time.monotonic() - begin
    sock.close()
    return {"first": first, "bytes": r.count - first, "updates": updates, "seconds": elapsed, "width": width, "height": height,
            "area": area / max(1, updates)}


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
