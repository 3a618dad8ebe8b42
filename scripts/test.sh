#!/usr/bin/env bash
# The README's test command: installs dependencies, builds, and runs every test (unit tests, the
# Zeek oracle comparison, capture-driven tests and the network-namespace integration tests)
# through ctest. Needs root (apt-get, network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 900 "$@"
