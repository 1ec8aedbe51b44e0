#!/usr/bin/env python3
"""The seat's VNC helper (vigie-vnc) under a real VNC client, for Vigie's tests.

    vnc-check.py bridge HELPER DISPLAY MODE PASSWORD
    vnc-check.py compare SHOT.png XWD_FILE

bridge: starts HELPER on DISPLAY (view or control) with one end of a socket
pair, as the agent does, writes PASSWORD on its stdin, and relays one TCP
connection on 127.0.0.1 to the other end (as the console's local endpoint
does). Prints `listening PORT HELPER_PID`, then `helper-exit CODE` once the
helper ended.

compare: the mean absolute difference per channel between a PNG (the VNC
client's capture) and an `xwd -root` dump of the same display, printed as
`diff MEAN size WxH` (exit 1 when the sizes differ).
"""
import os
import select
import socket
import struct
import subprocess
import sys


def bridge(helper, display, mode, password):
    ours, theirs = socket.socketpair()
    child = subprocess.Popen([helper, "--display", display, "--fd", str(theirs.fileno()), "--mode", mode],
                             pass_fds=[theirs.fileno()], stdin=subprocess.PIPE)
    theirs.close()
    child.stdin.write(password.encode() + b"\n")
    child.stdin.close()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    print("listening %d %d" % (listener.getsockname()[1], child.pid), flush=True)
    client, _ = listener.accept()
    listener.close()
    pair = {client: ours, ours: client}
    open_ends = [client, ours]
    while open_ends:
        ready, _, _ = select.select(open_ends, [], [], 1.0)
        if not ready and child.poll() is not None:
            break
        for end in ready:
            data = end.recv(65536)
            if not data:
                open_ends = []
                break
            pair[end].sendall(data)
    client.close()
    ours.close()
    print("helper-exit %d" % child.wait(timeout=10), flush=True)


def read_xwd(path):
    data = open(path, "rb").read()
    fields = struct.unpack(">25I", data[:100])
    header_size, width, height = fields[0], fields[4], fields[5]
    byte_order, bits_per_pixel, bytes_per_line = fields[7], fields[11], fields[12]
    masks = fields[14:17]
    ncolors = fields[19]
    if bits_per_pixel != 32:
        raise SystemExit("xwd: %d bits per pixel not handled" % bits_per_pixel)
    start = header_size + ncolors * 12
    order = "<" if byte_order == 0 else ">"

    def shift(mask):
        return (mask & -mask).bit_length() - 1

    shifts = [shift(m) for m in masks]
    pixels = []
    for y in range(height):
        row = data[start + y * bytes_per_line:start + y * bytes_per_line + width * 4]
        for (value,) in struct.iter_unpack(order + "I", row):
            pixels.append(tuple((value >> s) & 0xFF for s in shifts))
    return width, height, pixels


def compare(png, xwd):
    from PIL import Image
    shot = Image.open(png).convert("RGB")
    width, height, pixels = read_xwd(xwd)
    if shot.size != (width, height):
        print("size %dx%d against %dx%d" % (shot.size + (width, height)), flush=True)
        return 1
    total = 0
    for a, b in zip(shot.getdata(), pixels):
        total += abs(a[0] - b[0]) + abs(a[1] - b[1]) + abs(a[2] - b[2])
    print("diff %.3f size %dx%d" % (total / (3 * width * height), width, height), flush=True)
    return 0


def main():
    if sys.argv[1] == "bridge":
        return bridge(*sys.argv[2:6])
    if sys.argv[1] == "compare":
        return compare(sys.argv[2], sys.argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
