#!/usr/bin/env bash
# The shipped monitoring (docs/monitoring/) is valid and matches the daemon's metrics.
#
#   bash tests/monitoring/check_monitoring.sh [EXPOSITION_FILE]      (from the repository root;
#                                                                     any directory works)
# EXPOSITION_FILE: a scrape saved in the Prometheus text format, e.g.
#   curl -s http://127.0.0.1:9815/metrics >exposition.txt
#
# Needs python3 (standard library only) and promtool (Debian: apt-get install prometheus; or set
# PROMTOOL=/path/to/promtool). Always:
#   * promtool check rules docs/monitoring/synguard-alerts.yml
#   * promtool check config on docs/monitoring/prometheus.yml, copied to a temporary directory
#     with the rules file so its relative rule_files entry resolves
#   * promtool test rules tests/monitoring/synguard-alerts.test.yml (each alert fires when it
#     should, after its `for`, with the annotations an operator reads, and not otherwise)
#   * promtool parses every query of the Grafana dashboard (variables replaced)
#   * the dashboard is JSON with the datasource/instance/service variables; every alert has a
#     severity, a summary and a description, and README.md describes it
#   * every metric the dashboard and the rules use (synguard_*, histograms by their _bucket,
#     _sum and _count series, and up with job="synguard") exists, with the labels they select
#     and group by: in EXPOSITION_FILE if given, else in docs/METRICS.md's table
# With EXPOSITION_FILE also:
#   * promtool check metrics <EXPOSITION_FILE: parse errors fail; lint problems fail for
#     synguard_* metrics and are only warnings (WARN) for other families (prometheus-cpp's
#     exposer_* metrics, whose names we do not choose)
#   * every metric docs/METRICS.md lists is exposed, with the documented type and labels; an
#     exposed synguard_* metric the table lacks is a warning
# Prints one line per problem (FAIL ...), warnings (WARN ...), what passed (ok ...); exits 1 if
# any check failed, 0 otherwise.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
command -v python3 >/dev/null || {
  echo "FAIL python3 missing"
  exit 1
}
exec python3 "$here/check_monitoring.py" "$@"
