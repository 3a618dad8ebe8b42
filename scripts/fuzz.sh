#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a bounded time from
# its seed corpus, after replaying every saved regression input (tests/fuzz/regressions/TARGET/).
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 60; CI runs 20)
# A crash leaves its input in build-fuzz/crash-TARGET-*; add it to tests/fuzz/regressions/TARGET/
# once fixed. docs/RELIABILITY.md has the longer runs.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/build.sh
source scripts/lib/build.sh
secs="${1:-60}"
build="${FUZZ_BUILD_DIR:-build-fuzz}"
CXX=clang++ CC=clang configure_tree "$build" RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++ -DSYNGUARD_FUZZ=ON -DSYNGUARD_WERROR=OFF \
  -DSYNGUARD_BUILD_BENCH=OFF -DSYNGUARD_SANITIZE=address,undefined,fuzzer-no-link
targets=(parse engine config pcap)
build_tree "$build" --target "${targets[@]/#/fuzz_}" 2>&1 | grep -E "error|warning: unused" || true
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
# Fragments (no capture has them): first fragments holding the TCP header, atomic, tiny,
# overlapping and later ones, IPv4 and IPv6, as abuse.py sends them.
python3 - "$corpus/parse" <<'PY'
import ipaddress, os, sys
sys.path.insert(0, "scripts/lab")
from rawpkt import ipv4, ipv6, ipv6_fragment, tcp_segment
out = sys.argv[1]
s4, d4 = ipaddress.ip_address("203.0.113.7"), ipaddress.ip_address("198.51.100.10")
s6, d6 = ipaddress.ip_address("2001:db8:66::7"), ipaddress.ip_address("2001:db8:5::10")
opts = bytes([2, 4, 5, 0xb4, 1, 3, 3, 7])
seeds = []
for src, dst in ((s4, d4), (s6, d6)):
    seg = tcp_segment(src, dst, 40000, 80, 1000, 0, 0x02, opts, payload=b"F" * 80)
    for body, off, more in ((seg[:64], 0, True), (seg[64:], 8, False), (seg[:8], 0, True),
                            (seg[:24], 0, True), (seg[8:], 1, False), (seg[56:], 7, False)):
        if dst.version == 4:
            seeds.append(ipv4(src, dst, body, ident=7, frag_off=off, more=more))
        else:
            seeds.append(ipv6(src, dst, ipv6_fragment(6, off, more, 7) + body, 44))
    if dst.version == 6:
        seeds.append(ipv6(src, dst, ipv6_fragment(6, 0, False, 7) + seg, 44))  # atomic
        dstopts = bytes([6, 0, 1, 4, 0, 0, 0, 0])
        seeds.append(ipv6(src, dst, ipv6_fragment(60, 0, True, 7) + dstopts + seg[:56], 44))
for i, p in enumerate(seeds):
    open(os.path.join(out, "frag%02d" % i), "wb").write(b"\x00" + p)
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
