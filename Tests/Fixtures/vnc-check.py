#!/usr/bin/env python3
"""The seat's VNC helper (vigie-vnc) under a real VNC client, for Vigie's tests.

    vnc-check.py bridge HELPER DISPLAY MODE PASSWORD [HELPER_ARGS...]
    vnc-check.py compare SHOT.png XWD_FILE
    vnc-check.py cursor PORT PASSWORD DISPLAY
    vnc-check.py clipboard PORT PASSWORD DISPLAY [pass|none]
    vnc-check.py quality HELPER DISPLAY

bridge: starts HELPER on DISPLAY (view or control) with one end of a socket
pair, as the agent does, writes PASSWORD on its stdin, and relays one TCP
connection on 127.0.0.1 to the other end (as the console's local endpoint
does). HELPER_ARGS go to the helper as they are (`--quality low`,
`--clipboard`). Prints `listening PORT HELPER_PID`, then `helper-exit CODE`
once the helper ended.

compare: the mean absolute difference per channel between a PNG (the VNC
client's capture) and an `xwd -root` dump of the same display, printed as
`diff MEAN size WxH` (exit 1 when the sizes differ).

The three below need the venv's python (python-xlib, cryptography); they print
`ok ...` or `fail ...` lines and exit 1 on any failure.

cursor: an RFB client on PORT asking for the RichCursor and PointerPos
pseudo-encodings gets a cursor of the size and hotspot XFIXES gives for
DISPLAY (`ok cursor WxH hot X,Y`), a new one when the root window's cursor
changes (`ok cursor-change ...`), and the pointer's place when X moves it
(`ok pointer X,Y`).

clipboard: text from an RFB client on PORT (ClientCutText) ends up in the
seat's CLIPBOARD (`ok to-seat`); text another X client copies on DISPLAY
reaches the RFB client as ServerCutText, in Latin-1 (`ok to-viewer`); a text
past 256 KiB does not reach the seat (`ok big-to-seat-dropped`); then the same
both ways in UTF-8 through the extended clipboard (`ok utf8-to-seat`,
`ok utf8-to-viewer`). With `none` (view mode, or no --clipboard), nothing
must pass either way (`ok none to-seat`, `ok none to-viewer`, ...).

quality: covers DISPLAY with a busy picture, then runs HELPER three times
(`--quality low`, `medium`, `high`) for a client asking for Tight JPEG at its
best quality (9), and counts the bytes of one full update:
`quality low N medium N high N`, then `ok quality` when low < medium < high.
"""
import os
import random
import select
import socket
import struct
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))


def start_helper(helper, display, mode, password, extra=()):
    """The helper with one end of a socket pair, as the agent starts it: (process, our end)."""
    ours, theirs = socket.socketpair()
    child = subprocess.Popen([helper, "--display", display, "--fd", str(theirs.fileno()), "--mode", mode] + list(extra),
                             pass_fds=[theirs.fileno()], stdin=subprocess.PIPE)
    theirs.close()
    child.stdin.write(password.encode() + b"\n")
    child.stdin.close()
    return child, ours


def bridge(helper, display, mode, password, *extra):
    child, ours = start_helper(helper, display, mode, password, extra)
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
            try:
                data = end.recv(65536)
            except ConnectionResetError:  # a client that left with an update unread
                data = b""
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


# --- An RFB client for the checks below (scripts/rfbclient.py's handshake) ---

RAW, TIGHT, RICH_CURSOR, POINTER_POS, DESKTOP_SIZE, LAST_RECT = 0, 7, -239, -232, -223, -224
EXTENDED_CLIPBOARD = 0xC0A1E5CE - (1 << 32)


def rfb_connect(port, password, encodings):
    import rfbclient
    conn = rfbclient.Conn(socket.create_connection(("127.0.0.1", int(port)), timeout=10))
    conn.handshake(password, encodings)
    return conn


def read_message(conn):
    """One server message: ("update", [(x, y, w, h, encoding, payload)]), ("cut", bytes) or (kind, None)."""
    kind = conn.read(1)[0]
    if kind == 0:
        _, count = struct.unpack(">BH", conn.read(3))
        rects = []
        for _ in range(count):
            x, y, w, h, enc = struct.unpack(">HHHHi", conn.read(12))
            if enc == RAW:
                payload = conn.read(w * h * 4)
            elif enc == RICH_CURSOR:
                payload = conn.read(w * h * 4 + ((w + 7) // 8) * h)
            elif enc in (POINTER_POS, DESKTOP_SIZE):
                payload = b""
            elif enc == LAST_RECT:
                break
            else:
                raise ValueError("encoding %d" % enc)
            rects.append((x, y, w, h, enc, payload))
        return "update", rects
    if kind == 2:
        return "bell", None
    if kind == 3:
        conn.read(3)
        (length,) = struct.unpack(">i", conn.read(4))
        if length < 0:  # the extended clipboard: flags, then what they announce
            return "extcut", conn.read(-length)
        return "cut", conn.read(length)
    raise ValueError("server message %d" % kind)


def next_message(conn, deadline):
    """The next server message, or (None, None) when none began before `deadline`."""
    ready, _, _ = select.select([conn.sock], [], [], max(0, deadline - time.time()))
    return read_message(conn) if ready else (None, None)


def request_corner(conn):
    """An incremental request for one pixel: the server answers when the cursor
    changes or moves, with little else in the update."""
    conn.sock.sendall(struct.pack(">BBHHHH", 3, 1, 0, 0, 1, 1))


def x_display(display):
    from Xlib import display as xdisplay
    return xdisplay.Display(display)


# --- cursor ---

def cursor(port, password, display):
    from Xlib import X, Xatom  # noqa: F401
    d = x_display(display)
    d.xfixes_query_version()
    root = d.screen().root
    failures = 0
    # Over the root window, away from any other.
    root.warp_pointer(d.screen().width_in_pixels - 50, d.screen().height_in_pixels - 50)
    d.sync()
    conn = rfb_connect(port, password, [RAW, RICH_CURSOR, POINTER_POS])

    def next_cursor(deadline):
        while time.time() < deadline:
            request_corner(conn)
            kind, rects = next_message(conn, deadline)
            for x, y, w, h, enc, payload in rects or []:
                if kind == "update" and enc == RICH_CURSOR:
                    return x, y, w, h, payload
        return None

    def check(label):
        nonlocal failures
        got = next_cursor(time.time() + 5)
        image = d.xfixes_get_cursor_image(root)
        if got is None:
            print("fail %s no cursor shape received" % label, flush=True)
            failures += 1
            return
        xhot, yhot, w, h, payload = got
        mask = payload[w * h * 4:]
        if (w, h, xhot, yhot) != (image.width, image.height, image.xhot, image.yhot) or not any(mask) \
                or not (0 <= xhot < w and 0 <= yhot < h):
            print("fail %s got %dx%d hot %d,%d (mask %s) X has %dx%d hot %d,%d" % (
                label, w, h, xhot, yhot, "set" if any(mask) else "empty",
                image.width, image.height, image.xhot, image.yhot), flush=True)
            failures += 1
            return
        print("ok %s %dx%d hot %d,%d" % (label, w, h, xhot, yhot), flush=True)

    check("cursor")
    # Another cursor on the root window (the cursor font's hand): a new shape.
    font = d.open_font("cursor")
    hand = font.create_glyph_cursor(font, 60, 61, (0, 0, 0), (65535, 65535, 65535))
    root.change_attributes(cursor=hand)
    d.sync()
    check("cursor-change")
    root.change_attributes(cursor=X.NONE)
    d.sync()
    # X moves the pointer: the client is told where (PointerPos).
    target = (123, 77)
    root.warp_pointer(*target)
    d.sync()
    deadline = time.time() + 5
    seen = None
    while time.time() < deadline and seen != target:
        request_corner(conn)
        kind, rects = next_message(conn, deadline)
        for x, y, w, h, enc, payload in rects or []:
            if enc == POINTER_POS:
                seen = (x, y)
    if seen == target:
        print("ok pointer %d,%d" % seen, flush=True)
    else:
        print("fail pointer: last PointerPos %r, not %r" % (seen, target), flush=True)
        failures += 1
    conn.sock.close()
    return 1 if failures else 0


# --- clipboard ---

class SelectionOwner:
    """An X client that owns CLIPBOARD with a text and answers requests for it."""

    def __init__(self, d, text):
        from Xlib import X
        self.d = d
        self.text = text.encode()
        self.window = d.screen().root.create_window(0, 0, 1, 1, 0, X.CopyFromParent)
        self.clipboard = d.intern_atom("CLIPBOARD")
        self.utf8 = d.intern_atom("UTF8_STRING")
        self.targets = d.intern_atom("TARGETS")
        self.window.set_selection_owner(self.clipboard, X.CurrentTime)
        d.sync()

    def owns(self):
        return self.d.get_selection_owner(self.clipboard) == self.window

    def serve(self):
        from Xlib import X, Xatom
        from Xlib.protocol import event
        while self.d.pending_events():
            e = self.d.next_event()
            if e.type != X.SelectionRequest:
                continue
            prop = e.property or e.target
            if e.target == self.targets:
                e.requestor.change_property(prop, Xatom.ATOM, 32, [self.targets, self.utf8, Xatom.STRING])
            elif e.target in (self.utf8, Xatom.STRING):
                e.requestor.change_property(prop, e.target, 8, self.text)
            else:
                prop = X.NONE
            e.requestor.send_event(event.SelectionNotify(time=e.time, requestor=e.requestor, selection=e.selection,
                                                         target=e.target, property=prop))
            self.d.flush()


def read_clipboard(d, window):
    """The seat's CLIPBOARD as UTF8_STRING, or None (no owner, refused, no answer)."""
    from Xlib import X
    clipboard = d.intern_atom("CLIPBOARD")
    utf8 = d.intern_atom("UTF8_STRING")
    prop = d.intern_atom("VNC_CHECK")
    if d.get_selection_owner(clipboard) == X.NONE:
        return None
    window.convert_selection(clipboard, utf8, prop, X.CurrentTime)
    d.flush()
    deadline = time.time() + 2
    while time.time() < deadline:
        while d.pending_events():
            e = d.next_event()
            if e.type == X.SelectionNotify and e.requestor == window:
                if e.property == X.NONE:
                    return None
                value = window.get_full_property(prop, X.AnyPropertyType)
                return value.value if value else None
        time.sleep(0.02)
    return None


def clipboard(port, password, display, expect="pass"):
    from Xlib import X  # noqa: F401
    passing = expect == "pass"
    wait = 3 if passing else 1.5
    d = x_display(display)
    window = d.screen().root.create_window(0, 0, 1, 1, 0, X.CopyFromParent)
    conn = rfb_connect(port, password, [RAW])
    nonce = "%06d" % random.randrange(10 ** 6)
    failures = 0

    def report(ok, label, detail=""):
        nonlocal failures
        if ok:
            print("ok %s%s" % ("" if passing else "none ", label), flush=True)
        else:
            failures += 1
            print("fail %s %s" % (label, detail), flush=True)

    # (a) The viewer copies: the seat's CLIPBOARD holds it (Latin-1 on the wire, UTF-8 in X).
    to_seat = "to the seat \u00e9 " + nonce
    data = to_seat.encode("latin-1")
    conn.sock.sendall(struct.pack(">BxxxI", 6, len(data)) + data)
    deadline = time.time() + wait
    got = None
    while time.time() < deadline:
        got = read_clipboard(d, window)
        if got == to_seat.encode():
            break
        time.sleep(0.1)
    arrived = got == to_seat.encode()
    report(arrived == passing, "to-seat", "CLIPBOARD holds %r" % (got,))

    # (b) Another X client copies on the seat: the viewer receives it (Latin-1; € is not).
    to_viewer = "to the viewer \u00e9\u20ac " + nonce
    owner = SelectionOwner(d, to_viewer)
    expected = to_viewer.encode("latin-1", "replace")
    deadline = time.time() + wait
    received = []
    while time.time() < deadline and expected not in received:
        owner.serve()
        kind, payload = next_message(conn, min(deadline, time.time() + 0.05))
        if kind == "cut":
            received.append(payload)
    report((expected in received) == passing, "to-viewer", "ServerCutText %r" % received)

    # (c) More than 256 KiB from the viewer: dropped, the seat's owner stays ours.
    if passing:
        big = b"x" * (256 * 1024 + 1)
        conn.sock.sendall(struct.pack(">BxxxI", 6, len(big)) + big)
        deadline = time.time() + 1.5
        while time.time() < deadline:
            owner.serve()
            time.sleep(0.05)
        report(owner.owns(), "big-to-seat-dropped", "the helper took CLIPBOARD with a text past 256 KiB")

    # (d) The same both ways in UTF-8, through the extended clipboard (CRLF on its side, LF in X).
    conn.sock.sendall(struct.pack(">BxH", 2, 2) + struct.pack(">ii", RAW, EXTENDED_CLIPBOARD))
    kind, caps = next_message(conn, time.time() + 5)
    if kind != "extcut":
        report(False, "utf8", "no extended clipboard capabilities from the server: %r" % kind)
    else:
        text, provide = 1, 1 << 28
        caps = struct.pack(">II", (1 << 24) | text | (1 << 25) | (1 << 26) | (1 << 27) | provide, 1 << 20)
        conn.sock.sendall(struct.pack(">Bxxxi", 6, -len(caps)) + caps)
        utf8_to_seat = "vers le poste \u20ac\u00e9\r\nligne " + nonce
        body = utf8_to_seat.encode() + b"\0"
        # A stream flushed, not finished, as TigerVNC sends it (LibVNCServer 0.9.14 drops a viewer whose stream ends).
        deflate = zlib.compressobj()
        data = struct.pack(">I", provide | text) + deflate.compress(struct.pack(">I", len(body)) + body) \
            + deflate.flush(zlib.Z_SYNC_FLUSH)
        conn.sock.sendall(struct.pack(">Bxxxi", 6, -len(data)) + data)
        deadline = time.time() + wait
        got = None
        while time.time() < deadline:
            owner.serve()
            got = read_clipboard(d, window)
            if got == utf8_to_seat.replace("\r\n", "\n").encode():
                break
            time.sleep(0.1)
        arrived = got == utf8_to_seat.replace("\r\n", "\n").encode()
        report(arrived == passing, "utf8-to-seat", "CLIPBOARD holds %r" % (got,))

        utf8_to_viewer = "vers l'\u00e9cran \u20ac\nfin " + nonce
        owner = SelectionOwner(d, utf8_to_viewer)
        expected = utf8_to_viewer.replace("\n", "\r\n").encode() + b"\0"
        deadline = time.time() + wait
        received = []
        while time.time() < deadline and expected not in received:
            owner.serve()
            kind, payload = next_message(conn, min(deadline, time.time() + 0.05))
            if kind == "extcut" and struct.unpack(">I", payload[:4])[0] & provide:
                stream = zlib.decompressobj().decompress(payload[4:])
                size = struct.unpack(">I", stream[:4])[0]
                received.append(stream[4:4 + size])
            elif kind == "cut":
                received.append(payload)
        report((expected in received) == passing, "utf8-to-viewer", "received %r" % received)
    conn.sock.close()
    return 1 if failures else 0


# --- quality ---

def paint_busy(d):
    """A window over the whole screen with a photo-like picture (gradients and
    noise): JPEG's quality shows in its size. Returns the window (kept while d is open)."""
    from Xlib import X
    screen = d.screen()
    width, height = screen.width_in_pixels, screen.height_in_pixels
    window = screen.root.create_window(0, 0, width, height, 0, screen.root_depth, X.InputOutput, X.CopyFromParent,
                                       override_redirect=True, background_pixel=0)
    window.map()
    d.sync()
    rng = random.Random(7)
    tw, th = 320, 200
    tile = bytearray(tw * th * 4)
    for y in range(th):
        for x in range(tw):
            n = rng.randrange(48)
            i = (y * tw + x) * 4
            tile[i] = (x * 255 // tw + n) & 0xFF
            tile[i + 1] = (y * 255 // th + n) & 0xFF
            tile[i + 2] = ((x + y) * 3 + n) & 0xFF
    gc = window.create_gc()
    band = 32
    for y0 in range(0, height, band):
        rows = min(band, height - y0)
        data = bytearray()
        for y in range(y0, y0 + rows):
            row = tile[(y % th) * tw * 4:(y % th + 1) * tw * 4]
            data += (row * (width // tw + 1))[:width * 4]
        window.put_image(gc, 0, y0, width, rows, X.ZPixmap, screen.root_depth, 0, bytes(data))
    d.sync()
    return window


def quality(helper, display):
    import rfbclient
    d = x_display(display)
    paint_busy(d)
    time.sleep(0.3)
    sizes = {}
    for level in ("low", "medium", "high"):
        child, ours = start_helper(helper, display, "view", "k3y-0ne", ["--quality", level])
        ours.settimeout(20)
        conn = rfbclient.Conn(ours)
        # Tight, compression 1, JPEG at its best (quality 9), LastRect.
        conn.handshake("k3y-0ne", [TIGHT, -256 + 1, -32 + 9, LAST_RECT])
        start = conn.count
        conn.request(incremental=False)
        conn.update()
        sizes[level] = conn.count - start
        ours.close()
        child.wait(timeout=10)
    print("quality low %d medium %d high %d" % (sizes["low"], sizes["medium"], sizes["high"]), flush=True)
    if sizes["low"] < sizes["medium"] < sizes["high"]:
        print("ok quality", flush=True)
        return 0
    print("fail quality: not low < medium < high", flush=True)
    return 1


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    if sys.argv[1] == "bridge":
        return bridge(*sys.argv[2:])
    if sys.argv[1] == "compare":
        return compare(sys.argv[2], sys.argv[3])
    if sys.argv[1] == "cursor":
        return cursor(*sys.argv[2:5])
    if sys.argv[1] == "clipboard":
        return clipboard(*sys.argv[2:6])
    if sys.argv[1] == "quality":
        return quality(*sys.argv[2:4])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
