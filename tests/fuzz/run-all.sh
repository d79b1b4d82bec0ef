#!/usr/bin/env bash
# Builds every fuzz target, then runs each in turn (never two at once) at the lowest priority.
# Usage: tests/fuzz/run-all.sh [seconds-per-target, default 600]
# Final stats of each run go to tests/fuzz/artifacts/<target>.log; crashes to artifacts/<target>/.
set -euo pipefail

secs="${1:-600}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
export RUSTC_BOOTSTRAP=1

cargo fuzz build --fuzz-dir tests/fuzz
mkdir -p tests/fuzz/artifacts
for target in $(cargo fuzz list --fuzz-dir tests/fuzz); do
    echo "== $target (${secs}s)"
    log="tests/fuzz/artifacts/$target.log"
    status=0
    nice -n 19 cargo fuzz run --fuzz-dir tests/fuzz "$target" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs|stat::number_of_executed_units|SUMMARY)' "$log" || true
    if [ "$status" -ne 0 ]; then
        echo "$target failed (status $status); see $log and tests/fuzz/artifacts/$target/" >&2
        exit 1
    fi
done
