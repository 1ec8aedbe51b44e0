#!/usr/bin/env python3
"""Hostile peers for Vigie's tests, in their own process (the test runner must
not hold thousands of descriptors: Foundation's Process breaks past FD_SETSIZE).

    hostile-crowd.py PORT [--idle N] [--half-open N] [--connect-close N]
                     [--tls-big N [--cert PEM --key PEM] --ca PEM]

Every connection comes from 127.0.0.2-127.0.0.254 (never 127.0.0.1, the
legitimate console's address). idle: TCP, nothing sent. half-open: a TLS
ClientHello begun and never finished. connect-close: connect, then close.
tls-big: a TLS handshake (with the certificate when given, else anonymous)
then a frame header promising 32 MiB and 64 KiB of it. Prints
`ready OPEN REFUSED` once every connection was tried, then holds them until
it is terminated (SIGTERM).
"""
import argparse
import resource
import socket
import ssl
import struct
import time

MAX_FRAME = 32 * 1024 * 1024
HALF_OPEN = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]) + bytes([7]) * 64


def source(index):
    return "127.0.0.%d" % (2 + index % 253)


def connect(port, index, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source(index), 0))
    s.connect(("127.0.0.1", port))
    return s


def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("--idle", type=int, default=0)
    p.add_argument("--half-open", type=int, default=0)
    p.add_argument("--connect-close", type=int, default=0)
    p.add_argument("--tls-big", type=int, default=0)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--ca")
    a = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    held, refused, index = [], 0, 0
    for kind, count in (("idle", a.idle), ("half-open", a.half_open), ("connect-close", a.connect_close), ("tls-big", a.tls_big)):
        context = None
        if kind == "tls-big" and count:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.minimum_version = ssl.TLSVersion.TLSv1_3
            context.check_hostname = False
            context.load_verify_locations(a.ca)
            if a.cert:
                context.load_cert_chain(a.cert, a.key)
        for _ in range(count):
            index += 1
            try:
                s = connect(a.port, index)
                if kind == "half-open":
                    s.sendall(HALF_OPEN)
                elif kind == "connect-close":
                    s.close()
                    continue
                elif kind == "tls-big":
                    s = context.wrap_socket(s)
                    s.sendall(struct.pack(">IHBI", MAX_FRAME, 1, 1, 64) + bytes([0x41]) * (64 * 1024))
                held.append(s)
            except (OSError, ssl.SSLError):
                refused += 1
    print("ready %d %d" % (len(held), refused), flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
