#!/usr/bin/env python3
"""Assertions on a `synguard replay --json --conn-log` result for the integration tests."""
import collections
import json
import sys


def read_log(path):
    rows, cols = [], None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#fields"):
                cols = line.split("\t")[1:]
            elif line and not line.startswith("#"):
                rows.append(dict(zip(cols, line.split("\t"))))
    return rows


failures = []


def expect(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def connections(summary, rows, a):
    legit = [r for r in rows if r["orig_h"] in ("192.0.2.10", "2001:db8:c::10")]
    by = collections.Counter((r["resp_p"], r["conn_state"]) for r in legit)
    n = a["normal"]
    expect(by[("80", "SF")] == n + a["half"] + a["simul"],
           "port 80 SF = %d (normal + half-close + simultaneous), got %d"
           % (n + a["half"] + a["simul"], by[("80", "SF")]))
    expect(by[("80", "RSTO")] == a["abort"], "client aborts RSTO = %d, got %d"
           % (a["abort"], by[("80", "RSTO")]))
    expect(by[("80", "RSTR")] == a["srvabort"], "server aborts RSTR = %d, got %d"
           % (a["srvabort"], by[("80", "RSTR")]))
    expect(by[("81", "REJ")] == a["refused"], "refused REJ = %d, got %d"
           % (a["refused"], by[("81", "REJ")]))
    expect(by[("8080", "SF")] == a["ipv6"], "IPv6 SF = %d, got %d" % (a["ipv6"], by[("8080", "SF")]))
    sf = [r for r in legit if r["conn_state"] == "SF"]
    expect(all(r["state"] == "TIME_WAIT" for r in sf), "every SF connection ends in TIME_WAIT")
    both_tw = [r for r in sf if r["orig_state"] == "TIME_WAIT" and r["resp_state"] == "TIME_WAIT"]
    # The lab makes every simultaneous close cross (live_connections.sh holds each FIN until
    # the other side has sent its own); no other mode closes simultaneously.
    expect(len(both_tw) == a["simul"], "each simultaneous close left both sides in TIME-WAIT: %d of %d"
           % (len(both_tw), a["simul"]))
    rej = [r for r in legit if r["conn_state"] in ("REJ", "RSTO", "RSTR")]
    expect(all(r["state"] == "CLOSED" for r in rej), "every reset connection is CLOSED")
    expect(summary["invalid"] == {}, "no invalid segment: %s" % summary["invalid"])
    expect(summary["half_open"]["current"] == 0, "no half-open connection left")
    expect(summary["half_open"]["peak"] >= 1, "half-open peak >= 1")
    expect(summary["connections"]["total"] == len(rows), "summary total equals log lines")


def flood(summary, rows, a):
    k = a["syns"]
    flood_rows = [r for r in rows if r["orig_h"].startswith("203.0.113.")]
    legit = [r for r in rows if r["orig_h"] == "192.0.2.10"]
    # Random (address, port) pairs may repeat a tuple; a repeat is a SYN retransmission.
    expect(len(flood_rows) >= 0.99 * k, "flood connections %d >= 99%% of %d SYNs"
           % (len(flood_rows), k))
    states = collections.Counter(r["conn_state"] for r in flood_rows)
    expect(set(states) <= {"S0", "S1"}, "flood connections are S0 or S1: %s" % dict(states))
    answered = states.get("S1", 0)
    expect(0 < answered <= 32, "the server (no cookies, backlog 16) answered a few: %d" % answered)
    expect(all(r["state"] in ("SYN_SENT", "SYN_RECEIVED") for r in flood_rows),
           "every flood connection is still half-open")
    expect(len(legit) == a["legit"] and all(r["conn_state"] == "SF" for r in legit),
           "the %d connections before the flood are SF" % a["legit"])
    ho = summary["half_open"]
    expect(ho["peak"] == len(flood_rows), "half-open peak %d = flood connections %d"
           % (ho["peak"], len(flood_rows)))
    expect(ho["current"] == len(flood_rows), "still half-open at the end: %d" % ho["current"])
    svc = summary["top_services"][0]
    expect((svc["address"], svc["port"]) == ("198.51.100.10", 80),
           "top service is 198.51.100.10:80: %s" % svc)
    expect(svc["half_open_peak"] == len(flood_rows), "its half-open peak is the flood")
    src = summary["top_sources"][0]
    expect(src["prefix"] == "203.0.113.0/24" and src["half_open_peak"] == len(flood_rows),
           "top source prefix is 203.0.113.0/24 with every half-open: %s" % src)
    expect(src["syns"] == k, "SYNs from the flood prefix = %d: %d" % (k, src["syns"]))
    expect(summary["half_open"]["syn_rate_peak"] >= 1000,
           "peak SYN rate >= 1000/s: %s" % summary["half_open"]["syn_rate_peak"])


def main():
    kind, summary_path, log_path = sys.argv[1:4]
    args = {k: int(v) for k, v in (x.split("=") for x in sys.argv[4:])}
    with open(summary_path) as f:
        summary = json.load(f)
    rows = read_log(log_path)
    {"connections": connections, "flood": flood}[kind](summary, rows, args)
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
