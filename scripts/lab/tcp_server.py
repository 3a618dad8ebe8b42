#!/usr/bin/env python3
"""Test server for the synguard lab. The first line a client sends picks the behaviour:
  DATA n      send n bytes, wait for the client's FIN, then close (client closes first)
  HALF n      the client has already shut down its side; send n bytes in chunks, then close
              (data flows from the CLOSE-WAIT side)
  SIMUL t     shut down our side at wall time t, as the client does: the FINs cross
  ABORT       wait for the client to reset the connection
  SRVABORT    reset the connection ourselves (SO_LINGER 0)
  SINK n      read n bytes, answer with their sha256 (hex) and a newline
  SOURCE n s [r]  send n bytes of the stream seeded with s (see stream()), then close; at r
              bytes a second if given (a long-lived transfer)
  ECHO        echo every further line back until the client closes (a long-lived connection)
With --banner the server speaks first: a banner line on accept, before reading anything.
"""
import argparse
import hashlib
from labstream import stream
import socket
import struct
import threading
import time


def handle(conn, banner):
    try:
        conn.settimeout(30)
        if banner:
            conn.sendall(b"220 synguard-lab ready\r\n")
        f = conn.makefile("rb")
        line = f.readline().decode().strip()
        cmd, _, arg = line.partition(" ")
        if cmd == "DATA":
            conn.sendall(b"x" * int(arg))
            while conn.recv(65536):
                pass
        elif cmd == "HALF":
            while conn.recv(65536):
                pass
            n = int(arg)
            for _ in range(5):
                conn.sendall(b"h" * (n // 5))
                time.sleep(0.02)
        elif cmd == "SIMUL":
            t = float(arg)
            while time.time() < t:
                pass
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):
                pass
        elif cmd == "ABORT":
            while conn.recv(65536):
                pass
        elif cmd == "SINK":
            left = int(arg)
            h = hashlib.sha256()
            while left > 0:
                b = f.read1(min(left, 1 << 20))
                if not b:
                    break
                h.update(b)
                left -= len(b)
            conn.sendall(h.hexdigest().encode() + b"\n")
            while conn.recv(65536):
                pass
        elif cmd == "SOURCE":
            n, seed, rate = (arg.split(" ") + ["0"])[:3]
            t0, sent = time.monotonic(), 0
            for chunk in stream(int(seed), int(n)):
                step = max(1, int(rate) // 10) if int(rate) else len(chunk)
                for i in range(0, len(chunk), step):
                    conn.sendall(chunk[i:i + step])
                    sent += len(chunk[i:i + step])
                    if int(rate):
                        time.sleep(max(0.0, t0 + sent / int(rate) - time.monotonic()))
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):
                pass
        elif cmd == "ECHO":
            conn.settimeout(120)
            for l in f:
                conn.sendall(l)
        elif cmd == "SRVABORT":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    finally:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--backlog", type=int, default=16)
    ap.add_argument("--ipv6", action="store_true")
    ap.add_argument("--banner", action="store_true")
    args = ap.parse_args()
    fam = socket.AF_INET6 if args.ipv6 else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if args.ipv6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::" if args.ipv6 else "0.0.0.0", args.port))
    s.listen(args.backlog)
    print("listening", flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c, args.banner), daemon=True).start()


if __name__ == "__main__":
    main()
