#!/usr/bin/env python3
"""seat-lab's QMP driver (Python standard library only).

    qmp.py SOCKET screendump OUT.png      the guest's screen, as PNG (prints "WxH mean=… white=…")
    qmp.py SOCKET type TEXT [--device ID] [--delay S]
                                          types TEXT (a-z 0-9 space . - / and newline) as key
                                          presses (of device ID if it is bound to a display)
    qmp.py SOCKET key QCODE…              presses and releases keys together (e.g. ctrl alt backspace)
    qmp.py SOCKET status                  the VM's run state
    qmp.py SOCKET quit                    stops QEMU at once

Keys go through `input-send-event` to QEMU's active keyboard: the USB HID
keyboard (usb-kbd), activated last, not the PS/2 one (checked in the guest:
the xHCI interrupt count grows with each key, i8042's does not). The guest
sees them as a real keyboard (evdev → libinput → Xorg).
"""
import json
import socket
import struct
import sys
import time
import zlib


class QMPError(Exception):
    pass


class QMP:
    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        greeting = self._read()
        if "QMP" not in greeting:
            raise QMPError(f"not a QMP greeting: {greeting}")
        self.command("qmp_capabilities")

    def _read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise QMPError("QEMU closed the QMP socket")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def command(self, name, **arguments):
        msg = {"execute": name}
        if arguments:
            msg["arguments"] = arguments
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._read()
            if "event" in reply:
                continue
            if "error" in reply:
                raise QMPError(f"{name}: {reply['error'].get('desc', reply['error'])}")
            return reply.get("return")

    def close(self):
        self.sock.close()


# Characters to QEMU qcodes (shifted ones: (qcode, True)).
def qcode_for(ch):
    if "a" <= ch <= "z" or "0" <= ch <= "9":
        return ch, False
    if "A" <= ch <= "Z":
        return ch.lower(), True
    table = {" ": "spc", "\n": "ret", ".": "dot", "-": "minus", "/": "slash",
             ",": "comma", "=": "equal", ";": "semicolon", "_": ("minus", True),
             ":": ("semicolon", True), ">": ("dot", True)}
    if ch not in table:
        raise QMPError(f"cannot type {ch!r}")
    v = table[ch]
    return (v, False) if isinstance(v, str) else v


def key_events(qcodes, down):
    return [{"type": "key", "data": {"down": down, "key": {"type": "qcode", "data": q}}} for q in qcodes]


def press(qmp, qcodes, device=None, hold=0.03):
    kwargs = {"device": device} if device else {}
    qmp.command("input-send-event", events=key_events(qcodes, True), **kwargs)
    time.sleep(hold)  # a key press has a duration; the HID device reports at 1 kHz at best
    qmp.command("input-send-event", events=key_events(list(reversed(qcodes)), False), **kwargs)


def type_text(qmp, text, device=None, delay=0.03):
    for ch in text:
        code, shift = qcode_for(ch)
        press(qmp, ["shift", code] if shift else [code], device)
        time.sleep(delay)


def ppm_to_png(ppm):
    """Reads a binary PPM (P6, maxval 255); returns (width, height, png bytes, rgb bytes)."""
    fields, pos = [], 0
    while len(fields) < 4:
        while ppm[pos:pos + 1].isspace():
            pos += 1
        if ppm[pos:pos + 1] == b"#":
            pos = ppm.index(b"\n", pos) + 1
            continue
        end = pos
        while not ppm[end:end + 1].isspace():
            end += 1
        fields.append(ppm[pos:end])
        pos = end
    pos += 1
    if fields[0] != b"P6" or int(fields[3]) != 255:
        raise QMPError("screendump: not a P6 PPM with maxval 255")
    w, h = int(fields[1]), int(fields[2])
    rgb = ppm[pos:pos + w * h * 3]
    raw = b"".join(b"\x00" + rgb[y * w * 3:(y + 1) * w * 3] for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    return w, h, png, rgb


def screendump(qmp, out_png, band=None):
    """Saves the screen as a PNG; returns (width, height, mean, white share), and
    with `band` (0xRRGGBB) the share of the screen in that colour as a fifth value."""
    tmp = out_png + ".ppm"
    qmp.command("screendump", filename=tmp)
    # QEMU writes the file before it answers; read it whole.
    with open(tmp, "rb") as f:
        ppm = f.read()
    import os
    os.unlink(tmp)
    w, h, png, rgb = ppm_to_png(ppm)
    with open(out_png, "wb") as f:
        f.write(png)
    n = w * h
    step = 97  # a sample is enough for the statistics
    samples = range(0, n, step)
    mean = sum(rgb[i * 3] + rgb[i * 3 + 1] + rgb[i * 3 + 2] for i in samples) / (3 * len(samples))
    white = sum(1 for i in samples if rgb[i * 3] > 240 and rgb[i * 3 + 1] > 240 and rgb[i * 3 + 2] > 240) / len(samples)
    if band is None:
        return w, h, mean, white
    want = ((band >> 16) & 255, (band >> 8) & 255, band & 255)
    dense = range(0, n, 7)
    near = sum(1 for i in dense if all(abs(rgb[i * 3 + k] - want[k]) <= 8 for k in range(3))) / len(dense)
    return w, h, mean, white, near


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    path, what, args = argv[1], argv[2], argv[3:]
    device, delay = None, 0.03
    if "--device" in args:
        i = args.index("--device"); device = args[i + 1]; del args[i:i + 2]
    if "--delay" in args:
        i = args.index("--delay"); delay = float(args[i + 1]); del args[i:i + 2]
    try:
        qmp = QMP(path)
        if what == "screendump":
            w, h, mean, white = screendump(qmp, args[0])
            print(f"{w}x{h} mean={mean:.1f} white={white:.3f}")
        elif what == "type":
            type_text(qmp, args[0].encode().decode("unicode_escape"), device, delay)
        elif what == "key":
            press(qmp, args, device)
        elif what == "status":
            print(qmp.command("query-status")["status"])
        elif what == "quit":
            try:
                qmp.command("quit")
            except QMPError:
                pass
        else:
            print(f"qmp.py: unknown command {what}", file=sys.stderr)
            return 2
        return 0
    except (OSError, QMPError) as e:
        print(f"qmp.py: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
