#!/usr/bin/env bash
# Configures and builds synguard into ${BUILD_DIR:-build}.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/build.sh
source scripts/lib/build.sh
build_dir="${BUILD_DIR:-build}"
configure_tree "$build_dir" "${BUILD_TYPE:-RelWithDebInfo}" "$@"
build_tree "$build_dir"
