#!/usr/bin/env python3
"""Raw IPv4/TCP packets for the lab's generators (synflood.py, abuse.py): sent over an
IPPROTO_RAW socket, the kernel fills in the IP checksum and total length. IPv6 packets are
complete (no checksum in the IPv6 header); tcp_segment takes IPv6 addresses too (the
pseudo-header sums alike)."""
import random
import struct


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def tcp_segment(src, dst, sport, dport, seq, ack, flags, opts=b"", payload=b"", doff=None,
                window=64240, good_sum=True):
    if len(opts) % 4:
        opts += b"\0" * (4 - len(opts) % 4)
    off = doff if doff is not None else 5 + len(opts) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (off & 0xF) << 4, flags, window, 0,
                      0) + opts + payload
    pseudo = src.packed + dst.packed + struct.pack("!BBH", 0, 6, len(tcp))
    c = csum(pseudo + tcp)
    if not good_sum:
        c ^= 0x5A5A
    return tcp[:16] + struct.pack("!H", c) + tcp[18:]


def ipv4(src, dst, l4, ident=None, frag_off=0, more=False):
    fl = (0x2000 if more else 0) | (frag_off & 0x1FFF)
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4),
                       ident if ident is not None else random.getrandbits(16), fl, 64, 6, 0,
                       src.packed, dst.packed) + l4  # the kernel fills in the IP checksum


def ipv6(src, dst, payload, next_header, hop_limit=64):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), next_header, hop_limit, src.packed,
                       dst.packed) + payload


def ipv6_fragment(next_header, offset_units, more, ident):
    """An IPv6 Fragment header (RFC 8200 §4.5); offset in 8-byte units."""
    return struct.pack("!BBHI", next_header, 0, ((offset_units & 0x1FFF) << 3) | (1 if more else 0),
                       ident & 0xFFFFFFFF)
