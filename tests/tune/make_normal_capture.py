#!/usr/bin/env python3
"""Writes a deterministic "normal day" capture for synguard tune's tests: clients from a few
dozen /24s completing handshakes with 198.51.100.10:80 at a rate that varies over the capture
(a slow wave with noise, Poisson arrivals), each connection a full SYN, SYN-ACK, ACK, request,
answer and close. Fixed seed: the same bytes every run. Usage: make_normal_capture.py OUT
[SECONDS] [PEAK_RATE]"""
import random
import struct
import sys
import math

SERVER = (198, 51, 100, 10)
PORT = 80
LINKTYPE_RAW = 101


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def packet(src, dst, sport, dport, seq, ack, flags, payload=b"", syn_opts=False):
    opts = b"\x02\x04\x05\xb4\x01\x03\x03\x07" if syn_opts else b""  # MSS 1460, wscale 7
    off = (20 + len(opts)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      off << 4, flags, 64240, 0, 0) + opts + payload
    pseudo = bytes(src) + bytes(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    c = checksum(pseudo + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, bytes(src),
                     bytes(dst))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp


SYN, ACK, FIN, PSH = 0x02, 0x10, 0x01, 0x08


def connection(rng, t, client, cport):
    """The packets of one connection starting at t, as (time, bytes)."""
    rtt = rng.uniform(0.005, 0.120)
    c, s = rng.getrandbits(32), rng.getrandbits(32)
    out = []
    out.append((t, packet(client, SERVER, cport, PORT, c, 0, SYN, syn_opts=True)))
    out.append((t + 0.0002, packet(SERVER, client, PORT, cport, s, c + 1, SYN | ACK,
                                   syn_opts=True)))
    t1 = t + rtt
    req = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n"
    out.append((t1, packet(client, SERVER, cport, PORT, c + 1, s + 1, ACK)))
    out.append((t1 + 0.0001, packet(client, SERVER, cport, PORT, c + 1, s + 1, ACK | PSH, req)))
    body = b"x" * 600
    t2 = t1 + rng.uniform(0.001, 0.030)
    out.append((t2, packet(SERVER, client, PORT, cport, s + 1, c + 1 + len(req), ACK | PSH, body)))
    t3 = t2 + rtt
    cs = c + 1 + len(req)
    ss = s + 1 + len(body)
    out.append((t3, packet(client, SERVER, cport, PORT, cs, ss, ACK | FIN)))
    out.append((t3 + 0.0002, packet(SERVER, client, PORT, cport, ss, cs + 1, ACK | FIN)))
    out.append((t3 + rtt, packet(client, SERVER, cport, PORT, cs + 1, ss + 1, ACK)))
    return out


def main():
    path = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 300
    peak = float(sys.argv[3]) if len(sys.argv) > 3 else 40
    rng = random.Random(17)
    prefixes = [(10, rng.randrange(256), rng.randrange(256)) for _ in range(40)]
    start = 1764928800.0  # 2025-12-05 10:00 UTC
    packets = []
    t = 0.0
    port = 20000
    while t < seconds:
        rate = peak * (0.55 + 0.35 * math.sin(2 * math.pi * t / 120) + 0.1 * rng.random())
        t += rng.expovariate(max(rate, 1.0))
        p = prefixes[min(int(rng.paretovariate(1.2)) - 1, len(prefixes) - 1)]
        client = p + (rng.randrange(1, 255),)
        port = 20000 + (port - 19999) % 40000
        packets += connection(rng, start + t, client, port)
    packets.sort(key=lambda x: x[0])
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_RAW))
        for ts, data in packets:
            sec = int(ts)
            usec = int(round((ts - sec) * 1e6))
            if usec >= 1000000:
                sec, usec = sec + 1, usec - 1000000
            f.write(struct.pack("<IIII", sec, usec, len(data), len(data)) + data)
    print("make_normal_capture: %s: %d packets over %.0f s" % (path, len(packets), seconds))


if __name__ == "__main__":
    main()
