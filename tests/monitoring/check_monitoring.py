#!/usr/bin/env python3
"""Checks the shipped monitoring against the daemon's metrics.

  check_monitoring.py [EXPOSITION]

Without an exposition: every synguard_* metric the dashboard and the alert rules use must be
documented in docs/METRICS.md. With one (Prometheus text format, e.g. saved from
`curl 127.0.0.1:9815/metrics`): every metric they use and every metric docs/METRICS.md lists
must be in it. Prints one line per problem and exits 1 if there is any.
"""
import json
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def used_names(expr):
    names = set()
    for tok in IDENT.findall(expr):
        if tok.startswith("synguard_"):
            names.add(re.sub(r"_(bucket|sum|count)$", "", tok)
                      if tok.startswith("synguard_packet_processing_seconds") else tok)
    return names


def dashboard_exprs(path):
    exprs = []

    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if k in ("expr", "query", "definition") and isinstance(v, str):
                    exprs.append(v)
                else:
                    walk(v)
        elif isinstance(o, list):
            for v in o:
                walk(v)

    with open(path) as f:
        walk(json.load(f))
    return exprs


def rule_exprs(path):
    # The rules are YAML; their expressions are the `expr:` values (single line or folded).
    exprs, cur = [], None
    with open(path) as f:
        for line in f:
            m = re.match(r"^(\s*)expr:\s*(>-)?\s*(.*)$", line)
            if m:
                if cur is not None:
                    exprs.append(cur)
                cur = m.group(3)
                indent = len(m.group(1))
                continue
            if cur is not None:
                if line.strip() and len(line) - len(line.lstrip()) > indent:
                    cur += " " + line.strip()
                else:
                    exprs.append(cur)
                    cur = None
    if cur is not None:
        exprs.append(cur)
    return exprs


def documented():
    names = set()
    with open(os.path.join(ROOT, "docs", "METRICS.md")) as f:
        for line in f:
            m = re.match(r"^\| `(synguard_[a-z0-9_]+)` \|", line)
            if m:
                names.add(m.group(1))
    return names


def exposed(path):
    names = set()
    with open(path) as f:
        for line in f:
            m = re.match(r"^# TYPE (\S+) \S+", line)
            if m:
                names.add(m.group(1))
    return names


def main():
    problems = []
    dash = os.path.join(ROOT, "docs", "monitoring", "synguard-dashboard.json")
    rules = os.path.join(ROOT, "docs", "monitoring", "synguard-alerts.yml")
    uses = {}
    for e in dashboard_exprs(dash):
        for n in used_names(e):
            uses.setdefault(n, "the dashboard")
    rexprs = rule_exprs(rules)
    if not rexprs:
        problems.append("no expressions found in the alert rules")
    for e in rexprs:
        for n in used_names(e):
            uses.setdefault(n, "the alert rules")
    doc = documented()
    if not doc:
        problems.append("docs/METRICS.md lists no metric")
    have = exposed(sys.argv[1]) if len(sys.argv) > 1 else doc
    where = "the exposition" if len(sys.argv) > 1 else "docs/METRICS.md"
    for n, src in sorted(uses.items()):
        if n not in have:
            problems.append(f"{src} uses {n}, missing from {where}")
    if len(sys.argv) > 1:
        for n in sorted(doc - have):
            problems.append(f"docs/METRICS.md lists {n}, missing from the exposition")
    for p in problems:
        print("FAIL " + p)
    print(f"{len(uses)} metrics used by the dashboard and the rules, {len(doc)} documented"
          + (f", {len(have)} exposed" if len(sys.argv) > 1 else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
