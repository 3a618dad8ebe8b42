#!/usr/bin/env bash
# Runs synguard's benchmarks and prints the figures docs/BENCHMARKS.md reports:
#   1. engine per-packet cost (Google Benchmark, tests/bench/engine_bench.cc and
#      tests/bench/protect_bench.cc for cookies, the proxy and translation)
#   2. end-to-end replay of a generated 10-million-packet spoofed SYN flood (3 runs, median)
#   3. memory per tracked connection
# Usage: scripts/bench.sh [PACKETS]   (needs ~650 MB in $TMPDIR for the capture)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
packets="${1:-10000000}"
bash "$here/install-deps.sh" >/dev/null
BUILD_DIR="${BUILD_DIR:-build-bench}" BUILD_TYPE=Release bash "$here/build.sh" >/dev/null
build="$here/../${BUILD_DIR:-build-bench}"

echo "== machine"
lscpu | grep -E "Model name|^CPU\(s\)|L2 cache|L3 cache" | sed 's/  */ /g'
echo "kernel $(uname -r), $(g++ --version | head -1)"

echo "== engine (one core)"
"$build/tests/bench/synguard_engine_bench" --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true 2>/dev/null | grep -E "median|Benchmark"

echo "== SYN-flood defense (one core): cookies, proxy setup, translation"
"$build/tests/bench/synguard_protect_bench" --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true 2>/dev/null | grep -E "median|Benchmark"

echo "== replay of a generated $packets-packet spoofed SYN flood ($packets distinct sources)"
cap="${TMPDIR:-/tmp}/synguard-flood-$packets.pcap"
[ -f "$cap" ] || "$build/tests/bench/synguard_gen_flood" "$cap" "$packets" "$packets"
rates=()
for run in 1 2 3; do
  start=$(date +%s.%N)
  "$build/daemon/synguard" replay --no-progress --json "$cap" >"${TMPDIR:-/tmp}/synguard-bench.json"
  end=$(date +%s.%N)
  rate=$(python3 -c "print(round($packets / ($end - $start)))")
  echo "run $run: $(python3 -c "print(round($end - $start, 3))") s wall, $rate packets/s"
  rates+=("$rate")
done
printf '%s\n' "${rates[@]}" | sort -n | sed -n 2p | xargs -I{} echo "median: {} packets/s"
python3 - "${TMPDIR:-/tmp}/synguard-bench.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print("half-open peak %d, evicted %d, table capacity %d" % (
    d["half_open"]["peak"], d["table"]["evicted"], d["table"]["capacity"]))
PY

echo "== memory"
"$build/tests/synguard_engine_tests" --gtest_filter='ConnectionTable.MemoryPerConnection*' | grep bytes
