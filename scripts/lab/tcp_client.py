#!/usr/bin/env python3
"""Test client for the synguard lab: runs N connections of one kind and prints how many
succeeded. Modes (see tcp_server.py): normal, half, simul, abort, srvabort, refused, and
upload / download (--bytes of a seeded stream, checked by sha256 end to end), banner (the
server speaks first) and echo (one long-lived connection, --seconds of echoed lines)."""
import argparse
import hashlib
from labstream import stream
import os
import socket
import struct
import sys
import time


LATENCIES = []


def one(args, i):
    fam = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(args.timeout)
    if args.sport:  # the i-th connection from source port SPORT + i (a router steers them)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", args.sport + i))
    t0 = time.monotonic()
    try:
        s.connect((args.host, args.port))
    except (ConnectionRefusedError, socket.timeout, OSError):
        s.close()
        return args.mode == "refused"
    if args.latency_out:
        LATENCIES.append(time.monotonic() - t0)
    try:
        if args.mode == "normal":
            s.sendall(b"DATA %d\n" % args.bytes)
            got = 0
            while got < args.bytes:
                b = s.recv(65536)
                if not b:
                    break
                got += len(b)
            s.shutdown(socket.SHUT_WR)  # we close first
            while s.recv(65536):
                pass
            return got == args.bytes
        if args.mode == "half":
            s.sendall(b"HALF %d\n" % args.bytes)
            s.shutdown(socket.SHUT_WR)  # half-close: the server keeps sending
            got = 0
            while True:
                b = s.recv(65536)
                if not b:
                    break
                got += len(b)
            return got >= args.bytes // 5 * 5
        if args.mode == "simul":
            t = time.time() + 0.2
            s.sendall(b"SIMUL %.6f\n" % t)
            while time.time() < t:
                pass
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
            return True
        if args.mode == "upload":
            s.sendall(b"SINK %d\n" % args.bytes)
            h = hashlib.sha256()
            for chunk in stream(1000 + i, args.bytes):
                s.sendall(chunk)
                h.update(chunk)
            f = s.makefile("rb")
            got = f.readline().decode().strip()
            s.shutdown(socket.SHUT_WR)
            return got == h.hexdigest()
        if args.mode == "download":
            s.sendall(b"SOURCE %d %d %d\n" % (args.bytes, 2000 + i, args.rate))
            want = hashlib.sha256()
            for chunk in stream(2000 + i, args.bytes):
                want.update(chunk)
            got = hashlib.sha256()
            n = 0
            while True:
                b = s.recv(1 << 20)
                if not b:
                    break
                got.update(b)
                n += len(b)
            s.shutdown(socket.SHUT_WR)
            return n == args.bytes and got.digest() == want.digest()
        if args.mode == "banner":
            f = s.makefile("rb")
            line = f.readline()
            if not line.startswith(b"220 "):
                return False
            s.sendall(b"DATA 10\n")
            got = 0
            while got < 10:
                b = s.recv(100)
                if not b:
                    break
                got += len(b)
            s.shutdown(socket.SHUT_WR)
            return got == 10
        if args.mode == "echo":
            # One long-lived connection: a line every 0.1 s for --seconds (or until --stop-file
            # exists), each echoed intact. Stops at the first lost or wrong echo (the timeout
            # bounds the wait).
            s.sendall(b"ECHO\n")
            f = s.makefile("rb")
            end = time.monotonic() + args.seconds
            n = 0
            while time.monotonic() < end and not (args.stop_file and os.path.exists(args.stop_file)):
                msg = b"ping %d %s\n" % (n, b"z" * (n % 700))
                s.sendall(msg)
                if f.readline() != msg:
                    print("echo: lost after %d round trips" % n, flush=True)
                    return False
                n += 1
                time.sleep(0.1)
            if args.reset:  # close with a RST (SO_LINGER 0), not a FIN
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                s.shutdown(socket.SHUT_WR)
            print("echo: %d round trips" % n, flush=True)
            return n > 0
        if args.mode == "abort":
            s.sendall(b"ABORT\n")
            time.sleep(0.05)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return True
        if args.mode == "srvabort":
            s.sendall(b"SRVABORT\n")
            try:
                while s.recv(65536):
                    pass
            except ConnectionResetError:
                return True
            return False
        return False
    except OSError:
        return False
    finally:
        s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", default="normal")
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--bytes", type=int, default=1000)
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--gap", type=float, default=0.0)
    ap.add_argument("--seconds", type=float, default=5.0, help="echo mode: how long (at most)")
    ap.add_argument("--stop-file", help="echo mode: stop as soon as this file exists")
    ap.add_argument("--reset", action="store_true", help="echo mode: close with a RST")
    ap.add_argument("--min-ok", type=float, default=1.0, help="fraction that must succeed")
    ap.add_argument("--rate", type=int, default=0, help="download: the server sends at most this many bytes/s")
    ap.add_argument("--start-at", type=float, default=0.0, help="wait until this wall time (epoch s)")
    ap.add_argument("--sport", type=int, default=0, help="bind connection i to port SPORT + i")
    ap.add_argument("--latency-out", help="write each successful connect's latency (s) here")
    args = ap.parse_args()
    if args.start_at:
        time.sleep(max(0.0, args.start_at - time.time()))
    ok = 0
    for i in range(args.count):
        ok += 1 if one(args, i) else 0
        if args.gap:
            time.sleep(args.gap)
    if args.latency_out:
        with open(args.latency_out, "w") as f:
            f.write("".join("%.6f\n" % x for x in LATENCIES))
    print("%s: %d/%d ok" % (args.mode, ok, args.count), flush=True)
    sys.exit(0 if ok >= args.min_ok * args.count else 1)


if __name__ == "__main__":
    main()
