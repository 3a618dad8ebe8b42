#!/usr/bin/env bash
# Fails when a C++ source differs from clang-format's output (.clang-format: Google, 100 cols),
# or when engine/ reaches for the kernel, threads, the wall clock, randomness, exceptions or
# stdout (STYLE.md's first rule).
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files '*.h' '*.cc' | xargs clang-format --dry-run --Werror
if grep -nE '<sys/|<thread>|system_clock|random_device|\bthrow\b|std::cout' -r --include='*.h' --include='*.cc' engine/; then
  echo "check-format: engine/ must stay free of syscalls, threads, clocks, randomness, throw, cout" >&2
  exit 1
fi
echo "check-format: ok"
