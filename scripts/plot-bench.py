#!/usr/bin/python3
"""Plots scripts/lab-bench.sh's CSV side by side (SVG, one figure per measure).

  plot-bench.py BENCH_CSV OUT_DIR

Rows "setup,flood_pps,synacks_per_s,legit_ok,legit_total,p50_ms,p99_ms,cpu_s_per_M_syn" become
bar charts; the "throughput_*" lines a throughput chart. Needs python3-matplotlib.
"""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    rows, tput = [], {}
    with open(src) as f:
        for r in csv.reader(f):
            if not r or r[0] == "setup":
                continue
            if r[0].startswith("throughput_"):
                tput[r[0][len("throughput_"):].replace("_mbit", "")] = float(r[1])
            elif len(r) >= 8:
                rows.append(r)
    names = [r[0] for r in rows]
    charts = [
        ("synacks", "SYN-ACKs answered per second", [float(r[2]) for r in rows], "SYN-ACKs/s"),
        ("flood", "flood rate that arrived", [float(r[1]) for r in rows], "packets/s"),
        ("legit", "legitimate connections that succeeded (%)",
         [100.0 * float(r[3]) / max(1.0, float(r[4])) for r in rows], "%"),
        ("p99", "connect latency p99 during the flood", [float(r[6]) for r in rows], "ms"),
        ("cpu", "CPU-seconds per million flood SYNs (see BENCHMARKS.md caveat)",
         [float(r[7]) for r in rows], "s"),
    ]
    for key, title, values, unit in charts:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        bars = ax.bar(names, values, color=["#999999", "#4c72b0", "#dd8452", "#55a868"][: len(names)])
        ax.bar_label(bars, fmt="%.0f" if max(values, default=0) >= 10 else "%.2f", fontsize=8)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(unit)
        fig.tight_layout()
        fig.savefig(os.path.join(out, f"lab-{key}.svg"))
        plt.close(fig)
    if tput:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        bars = ax.bar(list(tput), list(tput.values()), color="#4c72b0")
        ax.bar_label(bars, fmt="%.0f", fontsize=8)
        ax.set_title("established 200 MB download through the gateway", fontsize=10)
        ax.set_ylabel("Mbit/s")
        fig.tight_layout()
        fig.savefig(os.path.join(out, "lab-throughput.svg"))
        plt.close(fig)
    print(f"plots: {len(charts) + (1 if tput else 0)} SVG files in {out}")


if __name__ == "__main__":
    main()
