#!/usr/bin/env python3
"""A console that watches a seat, then stops reading, for Vigie's tests.

    stalled-viewer.py viewer PORT IDENTITY_DIR [--width W] [--interval MS]
    stalled-viewer.py paint DISPLAY

viewer: mutual TLS with IDENTITY_DIR's cert.pem/key.pem (the seat checked
against its ca.pem), a small receive buffer, a `watch` request; prints
`watching` once the first picture arrived, then never reads again but keeps
sending its heartbeat every 500 ms (the stream stays alive, the seat's writes
fill up). SIGUSR1: the heartbeat stops too (a laptop put to sleep with the
seat's buffers full). Runs until terminated.

paint: covers DISPLAY's root window with new two-colour noise about ten times a
second (every thumbnail differs from the last, and none compresses to nothing).
"""
import json
import os
import random
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

VERSION = 1
REQUEST, RESPONSE, STREAM = 1, 2, 3


def frame(kind, header, body=b""):
    h = json.dumps(header).encode()
    return struct.pack(">IHBI", 7 + len(h) + len(body), VERSION, kind, len(h)) + h + body


def read_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError("the seat closed the connection")
        data += chunk
    return data


def read_frame(s):
    length, _version, kind, header_length = struct.unpack(">IHBI", read_exact(s, 11))
    rest = read_exact(s, length - 7)
    return kind, json.loads(rest[:header_length]), rest[header_length:]


def viewer(port, identity, width, interval):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.check_hostname = False
    context.load_verify_locations(os.path.join(identity, "ca.pem"))
    context.load_cert_chain(os.path.join(identity, "cert.pem"), os.path.join(identity, "key.pem"))
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A small window: the seat's side fills up soon after reading stops.
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    raw.settimeout(20)
    raw.connect(("127.0.0.1", port))
    s = context.wrap_socket(raw)
    s.sendall(frame(REQUEST, {"id": 1, "feature": "watch", "args": {"width": str(width), "interval": str(interval)},
                              "deadlineMillis": 10000}))
    kind, header, _ = read_frame(s)
    if kind != RESPONSE or header.get("status") != "ok":
        print("refused %s" % json.dumps(header), flush=True)
        return 1
    while True:
        kind, header, body = read_frame(s)
        if kind == STREAM and header.get("event") == "frame":
            break
    print("watching %d" % len(body), flush=True)
    silent = []
    signal.signal(signal.SIGUSR1, lambda *_: silent.append(True))
    beat = frame(STREAM, {"id": 0, "event": "heartbeat"})
    s.settimeout(None)
    while True:
        if not silent:
            try:
                s.sendall(beat)
            except OSError:
                pass
        time.sleep(0.5)


def paint(display):
    env = dict(os.environ, DISPLAY=display)
    path = os.path.join(tempfile.mkdtemp(prefix="vigie-noise-"), "noise.xbm")
    size = 64
    while True:
        values = ["0x%02x" % random.getrandbits(8) for _ in range(size * size // 8)]
        # Xlib reads bitmap files by line: twelve values a line, as `bitmap` writes them.
        rows = ",\n   ".join(", ".join(values[i:i + 12]) for i in range(0, len(values), 12))
        with open(path, "w") as f:
            f.write("#define n_width %d\n#define n_height %d\nstatic unsigned char n_bits[] = {\n   %s };\n" % (size, size, rows))
        colours = ["#%06x" % random.getrandbits(24) for _ in range(2)]
        subprocess.run(["xsetroot", "-bitmap", path, "-fg", colours[0], "-bg", colours[1]], env=env, check=True)
        time.sleep(0.1)


def main():
    if sys.argv[1] == "viewer":
        width = int(sys.argv[sys.argv.index("--width") + 1]) if "--width" in sys.argv else 320
        interval = int(sys.argv[sys.argv.index("--interval") + 1]) if "--interval" in sys.argv else 1000
        return viewer(int(sys.argv[2]), sys.argv[3], width, interval)
    if sys.argv[1] == "paint":
        return paint(sys.argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
