#!/usr/bin/env bash
# The multi-queue daemon under ThreadSanitizer: builds synguard with -fsanitize=thread and runs
# the live tests that exercise its threads together — two worker queues, the main thread's
# reload handoff and status, the metrics exporter's scrapes of the workers' snapshots — with
# TSan halting the daemon on the first report (the tests then fail on its exit status).
# As root (namespace lab).   scripts/tsan.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/build.sh
source scripts/lib/build.sh
build="${TSAN_BUILD_DIR:-build-tsan}"
configure_tree "$build" RelWithDebInfo -DSYNGUARD_SANITIZE=thread -DSYNGUARD_BUILD_BENCH=OFF
build_tree "$build" --target synguard
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1"
for part in reload service metrics; do
  echo "== TSan: live_ops $part"
  bash tests/integration/live_ops.sh "$PWD/$build/daemon/synguard" "$part" | grep -E "PASS|FAIL|ThreadSanitizer"
done
echo "tsan: no data race reported"
