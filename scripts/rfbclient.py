"""A small RFB (VNC) client for Vigie's benchmarks: it counts the bytes a
server sends, reads Tight rectangles without decoding them (and keeps the
colours of Tight fills), and answers VNC authentication. Also the helpers the
benchmarks share: CPU time of a process, a free X display, a free port.
"""
import os
import socket
import struct

# Tight, compression 9, JPEG quality 5, LastRect: what Veyon's master asks for its overview.
TIGHT_Q5 = [7, -256 + 9, -32 + 5, -224]


class Conn:
    """An RFB client that counts bytes and can see Tight fills."""

    def __init__(self, sock):
        self.sock = sock
        self.count = 0
        self.area = 0
        self.fills = []

    def read(self, n):
        data = bytearray()
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError("the VNC server closed the connection")
            data += chunk
        self.count += n
        return bytes(data)

    def handshake(self, password=None, encodings=TIGHT_Q5):
        self.read(12)
        self.sock.sendall(b"RFB 003.008\n")
        types = self.read(self.read(1)[0])
        if password is not None and 2 in types:
            self.sock.sendall(b"\x02")
            challenge = self.read(16)
            # VNC authentication: DES with the password's bits mirrored (the venv's cryptography).
            from cryptography.hazmat.primitives.ciphers import Cipher, modes
            try:
                from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
            except ImportError:  # older cryptography
                from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES
            key = bytes(int("{:08b}".format(b)[::-1], 2) for b in (password.encode() + b"\0" * 8)[:8])
            enc = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
            self.sock.sendall(enc.update(challenge) + enc.finalize())
        elif 1 in types:
            self.sock.sendall(b"\x01")
        else:
            raise SystemExit("security types %r" % list(types))
        if struct.unpack(">I", self.read(4))[0] != 0:
            raise SystemExit("VNC authentication failed")
        self.sock.sendall(b"\x01")
        self.width, self.height = struct.unpack(">HH", self.read(4))
        self.read(16)
        self.read(struct.unpack(">I", self.read(4))[0])
        self.sock.sendall(struct.pack(">BxxxBBBBHHHBBBxxx", 0, 32, 24, 0, 1, 255, 255, 255, 16, 8, 0))
        self.sock.sendall(struct.pack(">BxH", 2, len(encodings)) + b"".join(struct.pack(">i", e) for e in encodings))

    def request(self, incremental=True):
        self.sock.sendall(struct.pack(">BBHHHH", 3, 1 if incremental else 0, 0, 0, self.width, self.height))

    def compact(self):
        b = self.read(1)[0]
        n = b & 0x7F
        if b & 0x80:
            b = self.read(1)[0]
            n |= (b & 0x7F) << 7
            if b & 0x80:
                n |= self.read(1)[0] << 14
        return n

    def tight(self, w, h):
        control = self.read(1)[0] >> 4
        if control == 0x8:
            self.fills.append(self.read(3))
            return
        if control == 0x9:
            self.read(self.compact())
            return
        filter_id = self.read(1)[0] if control & 0x4 else 0
        if filter_id == 1:
            colours = self.read(1)[0] + 1
            self.read(colours * 3)
            size = ((w + 7) // 8) * h if colours == 2 else w * h
        else:
            size = w * h * 3
        if size < 12:
            self.read(size)
        else:
            self.read(self.compact())

    def update(self):
        """Reads messages until one framebuffer update is complete; returns its
        rectangles' count. `area` adds up the pixels they covered."""
        while True:
            kind = self.read(1)[0]
            if kind == 0:
                _, count = struct.unpack(">BH", self.read(3))
                for i in range(count):
                    x, y, w, h, enc = struct.unpack(">HHHHi", self.read(12))
                    if enc >= 0:
                        self.area += w * h
                    if enc == 7:
                        self.tight(w, h)
                    elif enc == 0:
                        self.read(w * h * 4)
                    elif enc == -224:
                        return i
                    elif enc in (-223, -239, -240):  # DesktopSize, cursor shapes
                        if enc != -223:
                            self.read(w * h * 4 + ((w + 7) // 8) * h)
                    else:
                        raise ValueError("encoding %d" % enc)
                return count
            if kind == 2:
                continue
            if kind == 3:
                self.read(3)
                self.read(struct.unpack(">I", self.read(4))[0])
                continue
            raise ValueError("server message %d" % kind)


def cpu_seconds(pid):
    """User + system CPU time of a process so far, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
