#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy: the checks and why some are off) over the production code and the
# tests; fails on any finding. clang-tidy 14 does not know the GCC-only flags of the compile
# database (-mmemset-strategy, -Wno-error=stringop-overflow, ...), so it reads a copy without
# them, and without -Werror: the compiler's own warnings are GCC's job here, not clang's.
#   scripts/tidy.sh [FILE_REGEX...]      (default: every source file in the database)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/build.sh
source scripts/lib/build.sh
build="${TIDY_BUILD_DIR:-build-tidy}"
configure_tree "$build" RelWithDebInfo -DSYNGUARD_BUILD_BENCH=ON
# The XDP skeleton header is generated (clang -target bpf, bpftool): xdp_program.cc includes it.
build_tree "$build" --target synguard_xdp_skel >/dev/null
db="$build/tidy"
mkdir -p "$db"
python3 - "$build/compile_commands.json" "$db/compile_commands.json" <<'PY'
import json, re, shlex, sys
drop = re.compile(r"^-(Werror.*|Wno-error=.*|mmemset-strategy=.*|mmemcpy-strategy=.*)$")
entries = json.load(open(sys.argv[1]))
for e in entries:
    args = e.pop("arguments", None) or shlex.split(e.pop("command"))
    e["arguments"] = [a for a in args if not drop.match(a)]
json.dump(entries, open(sys.argv[2], "w"), indent=1)
PY
start=$(date +%s)
# run-clang-tidy exits non-zero when clang-tidy does (WarningsAsErrors makes every finding an
# error); its output is kept whole so a finding shows with its file:line.
status=0
run-clang-tidy -p "$db" -j "$(nproc)" -quiet -extra-arg=-Wno-unknown-warning-option "$@" ||
  status=$?
echo "tidy: $(($(date +%s) - start))s, exit $status"
[ "$status" -eq 0 ] || { echo "tidy: findings above (.clang-tidy lists the checks)" >&2; exit 1; }
echo "tidy: ok"
