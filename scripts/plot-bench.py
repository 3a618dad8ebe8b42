#!/usr/bin/python3
"""Plots scripts/lab-bench.sh's CSV side by side (SVG, one figure per measure).

  plot-bench.py BENCH_CSV OUT_DIR
  plot-bench.py --soak SOAK_CSV OUT_DIR    (tests/integration/live_faults.sh soak's samples)

Rows "setup,flood,flood_pps,synacks_per_s,to_server_per_s,rsts_per_s,legit_ok,legit_total,
p50_ms,p99_ms,cpu_s_per_M" become grouped bar charts (one group per flood, one bar per setup);
the "throughput_*" lines a throughput chart. Needs python3-matplotlib.
"""
import csv
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = ["#999999", "#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"]
FLOOD_NAMES = {"syn": "SYN flood", "syn20": "SYN flood\n(20 option bytes)", "ack": "ACK flood\n(random cookies)", "rst": "RST flood",
               "synack": "SYN-ACK flood\n(reflection)"}


def grouped(path, title, unit, floods, setups, value, log=False):
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    width = 0.8 / max(1, len(setups))
    for i, setup in enumerate(setups):
        xs, ys = [], []
        for j, flood in enumerate(floods):
            v = value(setup, flood)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            xs.append(j + (i - (len(setups) - 1) / 2) * width)
            ys.append(v)
        bars = ax.bar(xs, [max(y, 1e-9) if log else y for y in ys], width, label=setup,
                      color=COLORS[i % len(COLORS)])
        ax.bar_label(bars, labels=[fmt(y) for y in ys], fontsize=6, rotation=90, padding=2)
    ax.set_xticks(range(len(floods)))
    ax.set_xticklabels([FLOOD_NAMES.get(f, f) for f in floods], fontsize=8)
    if log:
        ax.set_yscale("symlog", linthresh=1)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(unit)
    ax.margins(y=0.25)
    ax.legend(fontsize=7, ncol=len(setups), loc="upper center", bbox_to_anchor=(0.5, -0.22))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def fmt(y):
    if y == 0:
        return "0"
    if y >= 10000:
        return "%.0fk" % (y / 1000)
    if y >= 10:
        return "%.0f" % y
    return "%.2f" % y


def soak(src, out):
    """Samples "unix_time,rss_kib,cpu_s,table,capacity,half_open", one per second."""
    rows = [list(map(float, line.split(","))) for line in open(src) if line.strip()]
    if not rows:
        sys.exit("plot-bench: no soak samples in " + src)
    t0 = rows[0][0]
    t = [(r[0] - t0) / 60 for r in rows]
    fig, axes = plt.subplots(3, 1, figsize=(7.5, 6.5), sharex=True)
    axes[0].plot(t, [r[1] / 1024 for r in rows], color=COLORS[1])
    axes[0].set_ylabel("RSS (MiB)")
    axes[0].set_ylim(bottom=0)
    cpu = [(rows[i][2] - rows[i - 1][2]) / max(1e-9, rows[i][0] - rows[i - 1][0]) * 100
           for i in range(1, len(rows))]
    axes[1].plot(t[1:], cpu, color=COLORS[2])
    axes[1].set_ylabel("CPU (% of a core)")
    axes[2].plot(t, [r[3] for r in rows], label="table entries", color=COLORS[3])
    axes[2].plot(t, [r[5] for r in rows], label="half-open", color=COLORS[4])
    axes[2].set_ylabel("entries")
    axes[2].set_xlabel("minutes")
    axes[2].legend(fontsize=7)
    axes[0].set_title("soak: floods alternating with quiet, legitimate connections throughout",
                      fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "soak.svg"))
    plt.close(fig)
    print(f"plots: soak.svg in {out}")


def main():
    if sys.argv[1] == "--soak":
        os.makedirs(sys.argv[3], exist_ok=True)
        soak(sys.argv[2], sys.argv[3])
        return
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    rows, tput = {}, {}
    setups, floods = [], []
    with open(src) as f:
        for r in csv.reader(f):
            if not r or r[0] == "setup":
                continue
            if r[0].startswith("throughput_"):
                tput[r[0][len("throughput_"):].replace("_mbit", "")] = float(r[1])
            elif len(r) >= 11 and r[0] != "baseline":  # the baseline only calibrates CPU
                setup, flood = r[0], r[1]
                rows[(setup, flood)] = r
                if setup not in setups:
                    setups.append(setup)
                if flood not in floods:
                    floods.append(flood)

    def col(i):
        return lambda s, f: (float(rows[(s, f)][i])
                             if (s, f) in rows and len(rows[(s, f)]) > i else None)

    def legit(s, f):
        if (s, f) not in rows:
            return None
        r = rows[(s, f)]
        return 100.0 * float(r[6]) / max(1.0, float(r[7]))

    charts = [
        ("flood", "flood rate sent (the generator shares the machine)", "packets/s", col(2), False),
        ("synacks", "SYN-ACKs answered per second (at the attacker)", "SYN-ACKs/s", col(3), False),
        ("to-server", "flood packets reaching the server per second", "packets/s (symlog)", col(4),
         True),
        ("legit", "legitimate connections that succeeded during the flood", "%", legit, False),
        ("p99", "connect latency p99 during the flood", "ms (symlog)", col(9), True),
        ("cpu", "busy CPU-seconds per million flood packets (BENCHMARKS.md caveat)", "s", col(10),
         False),
        ("synacks-per-cpu", "SYN-ACKs per gateway CPU-second (baseline round subtracted)",
         "SYN-ACKs per CPU-s (symlog)", col(13), True),
    ]
    for key, title, unit, value, log in charts:
        grouped(os.path.join(out, f"lab-{key}.svg"), title, unit, floods, setups, value, log)
    if tput:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        bars = ax.bar(list(tput), list(tput.values()), color="#4c72b0")
        ax.bar_label(bars, fmt="%.0f", fontsize=8)
        ax.set_title("established 200 MB download through the gateway (median of 3)", fontsize=10)
        ax.set_ylabel("Mbit/s")
        fig.tight_layout()
        fig.savefig(os.path.join(out, "lab-throughput.svg"))
        plt.close(fig)
    print(f"plots: {len(charts) + (1 if tput else 0)} SVG files in {out}")


if __name__ == "__main__":
    main()
