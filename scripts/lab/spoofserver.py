#!/usr/bin/env python3
"""spoofed_server (docs/RELIABILITY.md): segments forged with a protected service's source
address, sent from the client side, each followed by the SYN they would let in.

For each of COUNT spoofed clients C:p (C in 203.0.113.0/24): a SYN-ACK S:port -> C:p with
ack = x+1, a plain ACK S:port -> C:p, then the SYN C:p -> S:port with sequence number x. An
engine that picks the forged segments up mid-stream finds an entry when the SYN arrives and
passes it to the server. Over IPPROTO_RAW sockets (IPv4: the kernel fills in the IP checksum and
length); every packet goes to the default route, i.e. through the gateway. With --server6 the
same again over IPv6, from 2001:db8:66::/48 (the lab routes it back towards the attacker)."""
import argparse
import ipaddress
import random
import socket
import struct
import sys
import time

from rawpkt import ipv4, tcp_segment

SYN, ACK = 0x02, 0x10


def ipv6(src, dst, l4):
    return struct.pack("!IHBB16s16s", 0x60000000, len(l4), 6, 64, src.packed, dst.packed) + l4


def pairs(server, hosts, port, count, build, out):
    """Sends COUNT triples; returns (forged, syns) sent."""
    forged = syns = 0
    for i in range(count):
        client = hosts[i % len(hosts)]
        cport = 20000 + i
        x = random.getrandbits(32)
        y = random.getrandbits(32)
        for src, dst, sp, dp, seq, ack, flags, kind in (
                (server, client, port, cport, y, (x + 1) % 2**32, SYN | ACK, "forged"),
                (server, client, port, cport, (y + 1) % 2**32, (x + 1) % 2**32, ACK, "forged"),
                (client, server, cport, port, x, 0, SYN, "syn")):
            if out(build(src, dst, tcp_segment(src, dst, sp, dp, seq, ack, flags)), dst):
                if kind == "forged":
                    forged += 1
                else:
                    syns += 1
        time.sleep(ARGS.gap)
    return forged, syns


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True, help="the protected service's address (forged)")
    ap.add_argument("--server6", help="its IPv6 address: the same pairs over IPv6 too")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--src-net", default="203.0.113.0/24")
    ap.add_argument("--src-net6", default="2001:db8:66::/120")
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--gap", type=float, default=0.002, help="seconds between two pairs")
    ap.add_argument("--seed", type=int, default=14)
    a = ARGS = ap.parse_args()
    net = ipaddress.ip_network(a.src_net)
    if not net.subnet_of(ipaddress.ip_network("203.0.113.0/24")):
        sys.exit("spoofserver: spoofed clients must be in 203.0.113.0/24 (the lab's)")
    net6 = ipaddress.ip_network(a.src_net6)
    if not net6.subnet_of(ipaddress.ip_network("2001:db8:66::/48")):
        sys.exit("spoofserver: spoofed IPv6 clients must be in 2001:db8:66::/48 (the lab's)")
    random.seed(a.seed)
    errors = 0

    def sender(family):
        s = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_RAW)

        def out(pkt, dst):
            nonlocal errors
            try:
                s.sendto(pkt, (str(dst), 0))
                return True
            except OSError:
                errors += 1
                return False
        return out

    forged, syns = pairs(ipaddress.ip_address(a.server), list(net.hosts()), a.port, a.count,
                         ipv4, sender(socket.AF_INET))
    if a.server6:
        f6, s6 = pairs(ipaddress.ip_address(a.server6), list(net6.hosts()), a.port, a.count,
                       ipv6, sender(socket.AF_INET6))
        forged, syns = forged + f6, syns + s6
    print("spoofserver: %d forged service segments, %d SYNs sent, %d send errors"
          % (forged, syns, errors), flush=True)
    return 0 if errors == 0 else 1


ARGS = None


if __name__ == "__main__":
    sys.exit(main())
