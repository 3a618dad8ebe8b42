#!/usr/bin/env bash
# Builds with AddressSanitizer + UndefinedBehaviorSanitizer and runs the unit, oracle and
# capture tests (not the namespace integration tests, which the main run covers).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build-asan}" BUILD_TYPE=Debug bash scripts/build.sh \
  -DSYNGUARD_SANITIZE=address,undefined -DSYNGUARD_BUILD_BENCH=OFF
cd "${BUILD_DIR:-build-asan}"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ctest --output-on-failure --timeout 900 -LE integration "$@"
