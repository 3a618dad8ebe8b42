#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a bounded time from
# its seed corpus, after replaying every saved regression input (tests/fuzz/regressions/TARGET/).
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 60; CI runs 20)
# A crash leaves its input in build-fuzz/crash-TARGET-*; add it to tests/fuzz/regressions/TARGET/
# once fixed. docs/RELIABILITY.md has the longer runs.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
build="${FUZZ_BUILD_DIR:-build-fuzz}"
CXX=clang++ CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DSYNGUARD_FUZZ=ON -DSYNGUARD_WERROR=OFF \
  -DSYNGUARD_BUILD_BENCH=OFF -DSYNGUARD_SANITIZE=address,undefined,fuzzer-no-link >/dev/null
targets=(parse engine config pcap)
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/#/fuzz_}" 2>&1 | grep -E "error|warning: unused" || true
for t in "${targets[@]}"; do
  [ -x "$build/tests/fuzz/fuzz_$t" ] || { echo "fuzz: fuzz_$t did not build"; exit 1; }
done

# Seed corpora: captures for pcap; their packets for parse; the shipped config for config.
corpus="$build/corpus"
mkdir -p "$corpus"/{parse,engine,config,pcap}
cp tests/data/*.pcap* "$corpus/pcap/" 2>/dev/null || true
cp config/synguard.yaml "$corpus/config/"
# Hand-made seeds: ICMP errors quoting TCP (parse), a proxied connection with errors (engine).
for t in parse engine; do
  cp tests/fuzz/seeds/"$t"/* "$corpus/$t/"
done
python3 - "$corpus/parse" tests/data/*.pcap <<'PY'
import struct, sys, os
out = sys.argv[1]
n = 0
for path in sys.argv[2:]:
    data = open(path, "rb").read()
    if len(data) < 24 or data[:4] not in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        continue
    link = struct.unpack("<I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data) and n < 400:
        _, _, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        ip = frame[14:] if link == 1 else frame
        if ip:
            open(os.path.join(out, "p%04d" % n), "wb").write(b"\x00" + ip)
            n += 1
PY
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
for t in "${targets[@]}"; do
  reg="tests/fuzz/regressions/$t"
  if [ -d "$reg" ] && [ -n "$(ls -A "$reg")" ]; then
    "$build/tests/fuzz/fuzz_$t" "$reg"/* >"$build/regress-$t.log" 2>&1 ||
      { tail -30 "$build/regress-$t.log"; echo "fuzz: a regression input crashes fuzz_$t"; exit 1; }
  fi
  echo "fuzz_$t: ${secs}s"
  (cd "$build" && "./tests/fuzz/fuzz_$t" -max_total_time="$secs" -max_len=4096 -timeout=10 \
    -artifact_prefix="crash-$t-" -print_final_stats=1 "corpus/$t" >"fuzz-$t.log" 2>&1) || {
    tail -40 "$build/fuzz-$t.log"
    echo "fuzz: fuzz_$t found a problem (input saved as $build/crash-$t-*)"
    exit 1
  }
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$build/fuzz-$t.log" | tr '\n' ' '
  echo "corpus $(ls "$corpus/$t" | wc -l)"
done
echo "fuzz: no crash, leak, undefined behaviour or broken invariant"
