#!/usr/bin/env python3
"""A recorded history of synguard's own metrics as OpenMetrics text, for promtool to backfill.

Two services, one sample a minute: a diurnal (and weekly) normal pattern for half-open
connections, SYNs received (a counter), handshakes completed (a counter) and the mode gauge;
with --attack, one SYN flood on "web" during which SYN rate and half-open jump 50-100x,
completions collapse and the mode gauge says cookie (after the first minutes, which the
incomplete-handshake filter has to catch). Deterministic: the same --seed and --end give the
same file, and the normal traffic is the same with and without --attack.

The value written at t(i+1) = start + (i+1)*60 describes minute i, [t(i), t(i+1)): a query
step ending at t(i+1) sees exactly minute i through rate(...[1m]).

  gen_history.py --end UNIX --days 9 [--attack] --out FILE --info FILE.json
"""
import argparse
import json
import math
import random

STEP = 60
# service: (SYNs per second at the daily peak, half-open at the daily peak)
SERVICES = {"web": (60.0, 80.0), "ssh": (4.0, 6.0)}
ATTACK_MINUTES = 90
ATTACK_UNDETECTED = 2  # minutes of the flood before the service went to cookie mode


def diurnal(t):
    """Load factor: low at 04:00 UTC, high at 16:00, weekends at 70%."""
    hour = (t % 86400) / 3600.0
    day = 0.35 + 0.65 * (0.5 - 0.5 * math.cos(2 * math.pi * (hour - 4) / 24))
    weekday = (int(t // 86400) + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
    return day * (0.7 if weekday >= 5 else 1.0)


def normal_minutes(start, minutes, seed):
    """Per service, per minute: (syns, completed, half_open) of normal traffic."""
    rng = random.Random(seed)
    out = {}
    for name, (peak_rate, peak_half_open) in SERVICES.items():
        rows = []
        for i in range(minutes):
            load = diurnal(start + i * STEP) * rng.uniform(0.85, 1.15)
            syns = round(peak_rate * load * STEP)
            completed = round(syns * rng.uniform(0.96, 0.995))
            half_open = round(peak_half_open * load * rng.uniform(0.9, 1.1))
            rows.append([syns, completed, half_open, 0])
        out[name] = rows
    return out


def add_attack(rows, first, seed):
    """The flood on one service: minutes first .. first+ATTACK_MINUTES-1."""
    rng = random.Random(seed + 1)
    peak = {"half_open": 0, "syn_rate": 0.0}
    for i in range(first, first + ATTACK_MINUTES):
        syns, completed, half_open, _ = rows[i]
        factor = rng.uniform(50, 100)
        attack_syns = round(syns * factor)
        # Legitimate clients still complete (about as many as before); the flood never does.
        rows[i] = [attack_syns, completed, round(half_open * factor),
                   0 if i - first < ATTACK_UNDETECTED else 1]
        peak["half_open"] = max(peak["half_open"], rows[i][2])
        peak["syn_rate"] = max(peak["syn_rate"], attack_syns / STEP)
    return peak


def write_openmetrics(path, start, data):
    families = [
        ("synguard_service_half_open_connections", "gauge", None),
        ("synguard_service_syns_received", "counter", 0),
        ("synguard_service_handshakes_completed", "counter", 1),
        ("synguard_service_mode", "gauge", None),
    ]
    with open(path, "w", encoding="ascii") as f:
        for family, kind, counter in families:
            f.write(f"# TYPE {family} {kind}\n")
            for name, rows in data.items():
                if family == "synguard_service_mode":
                    for mode, when in (("normal", 0), ("cookie", 1)):
                        for i, row in enumerate(rows):
                            value = 1 if row[3] == when else 0
                            f.write(f'{family}{{mode="{mode}",service="{name}"}} {value} '
                                    f"{start + (i + 1) * STEP}\n")
                    continue
                total = 0
                for i, row in enumerate(rows):
                    if counter is None:
                        f.write(f'{family}{{service="{name}"}} {row[2]} {start + (i + 1) * STEP}\n')
                    else:
                        total += row[counter]
                        f.write(f'{family}_total{{service="{name}"}} {total} '
                                f"{start + (i + 1) * STEP}\n")
        f.write("# EOF\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--end", type=int, required=True, help="Unix time of the last sample")
    parser.add_argument("--days", type=float, default=9)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--attack", action="store_true")
    parser.add_argument("--out", required=True)
    parser.add_argument("--info", required=True)
    args = parser.parse_args()
    end = args.end // STEP * STEP
    minutes = int(args.days * 86400 // STEP)
    start = end - minutes * STEP
    data = normal_minutes(start, minutes, args.seed)
    info = {"start": start, "end": end, "minutes": minutes, "step": STEP,
            "normal_peak": {n: {"half_open": max(r[2] for r in rows),
                                "syn_rate": max(r[0] for r in rows) / STEP}
                            for n, rows in data.items()}}
    if args.attack:
        # Three and a half days before the end, at 14:00 UTC: inside any --since of 4d or more.
        first_t = (end - int(3.5 * 86400)) // 86400 * 86400 + 14 * 3600
        first = (first_t - start) // STEP
        info["attack"] = {"service": "web", "start": start + first * STEP,
                          "minutes": ATTACK_MINUTES, "undetected_minutes": ATTACK_UNDETECTED,
                          **add_attack(data["web"], first, args.seed)}
    write_openmetrics(args.out, start, data)
    with open(args.info, "w", encoding="ascii") as f:
        json.dump(info, f, indent=1)


if __name__ == "__main__":
    main()
