#!/usr/bin/env python3
"""Crafted abuse for the synguard lab, sent over a raw socket (IP_HDRINCL) from the attacker's
namespace. Every kind is bounded (a fixed number of packets) and prints what it sent.

  abuse.py --dst ADDR --dport PORT KIND [KIND...]

Kinds, from spoofed sources in 203.0.113.0/24 (routed back to the attacker, where they die):
  options    SYNs with broken TCP options: length 0 or 1, running past the header, wrong
             lengths for MSS/WS/SACK-permitted/timestamps, a data offset beyond the packet or
             below 5, an absurd window-scale shift, options after EOL
  tinymss    SYNs announcing an MSS of 0, 1, 64 and 535
  syndata    SYNs carrying 1 to 1400 bytes of data
  fragments  SYNs split into IP fragments (8 bytes of TCP header in the first), overlapping
             fragments that rewrite the flags (the classic filter evasion), lone later fragments
  badsum     SYNs and ACKs with wrong TCP checksums
  fragsyn    --count SYNs (80 bytes of data), each as two IPv4 fragments: the whole TCP header
             and 40 bytes in the first, the rest at offset 64 (nothing overlaps the header)
  atomic6    --count6 IPv6 SYNs (sources in 2001:db8:66::/48, to --dst6) as atomic fragments
             (a Fragment header with offset 0 and M = 0, RFC 6946)
  unsafe     --count-unsafe of each: tiny first fragments (half the TCP header; the options
             cut), later fragments at offsets 8 and 56 bytes, over IPv4 and (with --dst6) IPv6
Against one connection (--src/--sport: the client's tuple, spoofed; blind, random numbers):
  games      RSTs, RST+ACKs and SYNs with random sequence numbers, ACKs with random and
             overlapping SACK blocks, pure ACKs far outside the window
"""
import argparse
import ipaddress
import random
import socket
import struct
import sys

import time

from rawpkt import ipv4, ipv6, ipv6_fragment, tcp_segment


MSS = struct.pack("!BBH", 2, 4, 1460)


def spoofed(net):
    return ipaddress.ip_address(int(net.network_address) + random.randint(1, net.num_addresses - 2))


def kind_options(a, out):
    bad_opts = [
        b"\x02\x00",                       # MSS with length 0
        b"\x02\x01",                       # length 1
        b"\x02\x04\x05\xb4\x08\x0a\x00",   # timestamps running past the header
        b"\x02\x03\x05",                   # MSS with length 3
        b"\x02\x06\x05\xb4\x00\x00",       # MSS with length 6
        b"\x03\x03\xff",                   # window scale shift 255
        b"\x03\x02",                       # window scale without its shift
        b"\x04\x03\x00",                   # SACK-permitted with length 3
        b"\x08\x09" + b"\0" * 7,           # timestamps with length 9
        b"\x05\x03\x00",                   # SACK with a length that holds no block
        b"\x00" + MSS[:3] + b"\x02\xff",   # EOL, then junk
        b"\x01" * 40,                      # 40 NOPs
        b"\xfe\x28" + b"\x41" * 38,        # an unknown option filling all 40 bytes
        b"\x1e\xff" + b"\0" * 6,           # length 255
    ]
    n = sum(spoofed_syns(a, out, o) for o in bad_opts)
    # A data offset beyond the packet, and one below the minimum.
    for doff in (15, 8, 2, 0):
        for _ in range(20):
            src = spoofed(a.net)
            out(ipv4(src, a.dst, tcp_segment(src, a.dst, random.randint(1024, 65535), a.dport,
                                             random.getrandbits(32), 0, 0x02, b"", doff=doff)))
            n += 1
    return n


def spoofed_syns(a, out, opts, payload=b"", count=20):
    for _ in range(count):
        src = spoofed(a.net)
        out(ipv4(src, a.dst, tcp_segment(src, a.dst, random.randint(1024, 65535), a.dport,
                                         random.getrandbits(32), 0, 0x02, opts, payload=payload)))
    return count


def kind_tinymss(a, out):
    return sum(spoofed_syns(a, out, struct.pack("!BBH", 2, 4, mss)) for mss in (0, 1, 64, 535))


def kind_syndata(a, out):
    return sum(spoofed_syns(a, out, MSS, payload=b"G" * size) for size in (1, 100, 536, 1400))


def kind_fragments(a, out):
    n = 0
    for _ in range(20):
        src = spoofed(a.net)
        seg = tcp_segment(src, a.dst, random.randint(1024, 65535), a.dport,
                          random.getrandbits(32), 0, 0x02, MSS)
        ident = random.getrandbits(16)
        # A SYN in two fragments: the first carries only 8 bytes of the TCP header.
        out(ipv4(src, a.dst, seg[:8], ident=ident, frag_off=0, more=True))
        out(ipv4(src, a.dst, seg[8:], ident=ident, frag_off=1))
        n += 2
    for _ in range(20):
        # Overlapping fragments: a harmless ACK first, then a later fragment at offset 1 that
        # rewrites the flags to SYN (classic filter evasion); whatever the reassembly keeps,
        # it must not reach the server unvalidated.
        src = spoofed(a.net)
        sport = random.randint(1024, 65535)
        isn = random.getrandbits(32)
        ack_seg = tcp_segment(src, a.dst, sport, a.dport, isn, 1, 0x10, MSS)
        syn_seg = tcp_segment(src, a.dst, sport, a.dport, isn, 0, 0x02, MSS)
        ident = random.getrandbits(16)
        out(ipv4(src, a.dst, ack_seg[:16], ident=ident, frag_off=0, more=True))
        out(ipv4(src, a.dst, syn_seg[8:], ident=ident, frag_off=1))
        n += 2
    for _ in range(20):
        # A lone later fragment (its first never comes).
        src = spoofed(a.net)
        seg = tcp_segment(src, a.dst, random.randint(1024, 65535), a.dport,
                          random.getrandbits(32), 0, 0x02, MSS)
        out(ipv4(src, a.dst, seg[8:], frag_off=1))
        n += 1
    return n


def kind_fragsyn(a, out):
    for _ in range(a.count):
        src = spoofed(a.net)
        seg = tcp_segment(src, a.dst, random.randint(1024, 65535), a.dport,
                          random.getrandbits(32), 0, 0x02, MSS, payload=b"F" * 80)
        ident = random.getrandbits(16)
        out(ipv4(src, a.dst, seg[:64], ident=ident, frag_off=0, more=True))
        out(ipv4(src, a.dst, seg[64:], ident=ident, frag_off=8))
    return 2 * a.count


def kind_atomic6(a, out):
    if a.dst6 is None:
        sys.exit("abuse: atomic6 needs --dst6")
    for _ in range(a.count6):
        src = spoofed(a.net6)
        seg = tcp_segment(src, a.dst6, random.randint(1024, 65535), a.dport,
                          random.getrandbits(32), 0, 0x02, struct.pack("!BBH", 2, 4, 1440))
        out(ipv6(src, a.dst6, ipv6_fragment(6, 0, False, random.getrandbits(32)) + seg, 44))
    return a.count6


def kind_unsafe(a, out):
    n = 0
    fams = [(a.net, a.dst)] + ([(a.net6, a.dst6)] if a.dst6 is not None else [])
    for net, dst in fams:
        for _ in range(a.count_unsafe):
            src = spoofed(net)
            seg = tcp_segment(src, dst, random.randint(1024, 65535), a.dport,
                              random.getrandbits(32), 0, 0x02, MSS + b"\x01\x01\x04\x02",
                              payload=b"U" * 80)  # a 28-byte header
            ident = random.getrandbits(16)
            pieces = [(seg[:8], 0, True),     # tiny: 8 bytes of the fixed header
                      (seg[:24], 0, True),    # tiny: the options cut
                      (seg[8:], 1, False),    # offset 8 bytes: rewrites the flags
                      (seg[56:], 7, False)]   # offset 56 bytes: within the longest header
            for body, off, more in pieces:
                if dst.version == 4:
                    out(ipv4(src, dst, body, ident=ident, frag_off=off, more=more))
                else:
                    out(ipv6(src, dst, ipv6_fragment(6, off, more, ident) + body, 44))
                n += 1
    return n


def kind_badsum(a, out):
    n = 0
    for flags in (0x02, 0x10):
        for _ in range(40):
            src = spoofed(a.net)
            out(ipv4(src, a.dst, tcp_segment(src, a.dst, random.randint(1024, 65535), a.dport,
                                             random.getrandbits(32), random.getrandbits(32),
                                             flags, MSS if flags == 0x02 else b"",
                                             good_sum=False)))
            n += 1
    return n


def kind_games(a, out):
    if not a.src or not a.sport:
        sys.exit("abuse: games needs --src and --sport (the connection's client side)")
    src = ipaddress.ip_address(a.src)
    n = 0
    for _ in range(a.games):
        r = random.random()
        seq, ack = random.getrandbits(32), random.getrandbits(32)
        if r < 0.3:
            seg = tcp_segment(src, a.dst, a.sport, a.dport, seq, 0, 0x04)
        elif r < 0.5:
            seg = tcp_segment(src, a.dst, a.sport, a.dport, seq, ack, 0x14)
        elif r < 0.6:
            seg = tcp_segment(src, a.dst, a.sport, a.dport, seq, 0, 0x02, MSS)
        elif r < 0.85:
            # SACK blocks: random, overlapping, reversed.
            b = random.getrandbits(32)
            blocks = [(b, b + 1000), (b + 500, b + 1500), (b + 2000, b + 1000)]
            sack = struct.pack("!BB", 5, 2 + 8 * len(blocks)) + b"".join(
                struct.pack("!II", x & 0xFFFFFFFF, y & 0xFFFFFFFF) for x, y in blocks)
            seg = tcp_segment(src, a.dst, a.sport, a.dport, seq, ack, 0x10, b"\x01\x01" + sack)
        else:
            seg = tcp_segment(src, a.dst, a.sport, a.dport, seq, ack, 0x10)
        out(ipv4(src, a.dst, seg))
        n += 1
    return n


KINDS = {"options": kind_options, "tinymss": kind_tinymss, "syndata": kind_syndata,
         "fragments": kind_fragments, "badsum": kind_badsum, "games": kind_games,
         "fragsyn": kind_fragsyn, "atomic6": kind_atomic6, "unsafe": kind_unsafe}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dst", required=True)
    ap.add_argument("--dport", type=int, required=True)
    ap.add_argument("--src-net", default="203.0.113.0/24")
    ap.add_argument("--src", help="games: the connection's client address (spoofed)")
    ap.add_argument("--sport", type=int, help="games: the connection's client port")
    ap.add_argument("--games", type=int, default=2000, help="games: how many packets")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--dst6", help="atomic6, unsafe: the IPv6 destination")
    ap.add_argument("--src-net6", default="2001:db8:66::/48")
    ap.add_argument("--count", type=int, default=3000, help="fragsyn: how many SYNs")
    ap.add_argument("--count6", type=int, default=300, help="atomic6: how many SYNs")
    ap.add_argument("--count-unsafe", type=int, default=50,
                    help="unsafe: how many of each piece, per address family")
    ap.add_argument("--pps", type=int, default=0, help="at most this many packets a second")
    ap.add_argument("kinds", nargs="+", choices=sorted(KINDS))
    a = ap.parse_args()
    a.net = ipaddress.ip_network(a.src_net)
    if not a.net.subnet_of(ipaddress.ip_network("203.0.113.0/24")):
        sys.exit("abuse: spoofed sources must be in 203.0.113.0/24 (the lab's)")
    a.net6 = ipaddress.ip_network(a.src_net6)
    if not a.net6.subnet_of(ipaddress.ip_network("2001:db8:66::/48")):
        sys.exit("abuse: spoofed IPv6 sources must be in 2001:db8:66::/48 (the lab's)")
    a.dst = ipaddress.ip_address(a.dst)
    a.dst6 = ipaddress.ip_address(a.dst6) if a.dst6 else None
    random.seed(a.seed)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    # IPPROTO_RAW over IPv6: the header is ours (Linux sets IPV6_HDRINCL for it).
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW) if a.dst6 else None
    errors = 0
    sent = 0
    start = time.monotonic()

    def out(pkt):
        nonlocal errors, sent
        v6 = pkt[0] >> 4 == 6
        try:
            if v6:
                s6.sendto(pkt, (str(ipaddress.ip_address(pkt[24:40])), 0))
            else:
                s.sendto(pkt, (str(ipaddress.ip_address(pkt[16:20])), 0))
        except OSError:
            errors += 1
        sent += 1
        if a.pps > 0:
            ahead = sent / a.pps - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)

    for k in a.kinds:
        n = KINDS[k](a, out)
        print("abuse %s: %d packets sent" % (k, n), flush=True)
    if errors:
        print("abuse: %d send errors" % errors, flush=True)


if __name__ == "__main__":
    main()
