#!/usr/bin/env bash
# The shipped monitoring is valid and matches the metrics (from the repository root or anywhere):
#   check_monitoring.sh [EXPOSITION_FILE]
# promtool checks the alert rules and the example Prometheus configuration; every metric the
# dashboard and the rules use exists (in the exposition if given, else in docs/METRICS.md); with
# an exposition, promtool checks it and it holds every metric docs/METRICS.md lists.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
mon="$root/docs/monitoring"
command -v promtool >/dev/null || {
  echo "FAIL promtool missing (apt-get install prometheus; scripts/install-deps.sh)"
  exit 1
}
python3 -c "import json; json.load(open('$mon/synguard-dashboard.json'))" || {
  echo "FAIL the dashboard is not valid JSON"
  exit 1
}
promtool check rules "$mon/synguard-alerts.yml"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$mon/prometheus.yml" "$mon/synguard-alerts.yml" "$tmp/"
promtool check config "$tmp/prometheus.yml"
if [ $# -gt 0 ]; then
  # Lint problems (names, help texts) fail too: the exposition is ours.
  lint=$(promtool check metrics <"$1" 2>&1) || {
    echo "FAIL promtool check metrics: $lint"
    exit 1
  }
fi
python3 "$root/tests/monitoring/check_monitoring.py" "$@"
