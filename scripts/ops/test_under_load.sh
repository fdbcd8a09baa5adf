#!/usr/bin/env bash
# The test suite beside a stress-style load: one busy loop per core plus a disk writer (fsync'd 256 MiB
# files), RUNS times in a row, each run's result, duration and failures logged. Every wall-clock bound in
# the tests must hold on a machine whose cores are busy, so that no change fails CI by chance.
#
#   scripts/ops/test_under_load.sh [RUNS=5] [LOGDIR=/tmp/test-under-load]
#
# Builds the tests once first (unloaded), then loads the machine only while the suite runs.
set -uo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
logdir=${2:-/tmp/test-under-load}
mkdir -p "$logdir"
scratch=$(mktemp -d)
pids=()
stop_load() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done; pids=(); }
trap 'stop_load; rm -rf "$scratch"' EXIT
swift build --build-tests >/dev/null || { echo "build failed"; exit 2; }
cores=$(nproc)
summary="$logdir/summary.txt"
: > "$summary"
passed=0
for run in $(seq 1 "$runs"); do
    for _ in $(seq 1 "$cores"); do (while :; do :; done) & pids+=($!); done
    (while :; do dd if=/dev/zero of="$scratch/load" bs=1M count=256 conv=fsync status=none; done) & pids+=($!)
    start=$(date +%s)
    swift test --skip-build > "$logdir/run-$run.log" 2>&1
    status=$?
    seconds=$(( $(date +%s) - start ))
    stop_load
    executed=$(grep -E "Executed [0-9]+ tests" "$logdir/run-$run.log" | tail -1 | sed 's/^[[:space:]]*//')
    echo "run $run: exit $status in ${seconds}s: $executed" | tee -a "$summary"
    grep -E "error: .*(failed|threw)" "$logdir/run-$run.log" | head -10 | tee -a "$summary"
    [ $status -eq 0 ] && passed=$((passed + 1))
done
echo "passed $passed of $runs runs with $cores busy loops and a disk writer beside the suite" | tee -a "$summary"
[ "$passed" -eq "$runs" ]
