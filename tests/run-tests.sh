#!/usr/bin/env bash
# run-tests.sh: runs every test program of the suite and counts their PASS/FAIL lines.
# The last line is "N passed, N failed" (skips are listed, not counted as either).
# Usage: tests/run-tests.sh [BUILD_DIR]
set -u
build=${1:-$(pwd)}
src=$(cd "$(dirname "$0")/.." && pwd)
logdir=$build/tests/logs
mkdir -p "$logdir"
pass=0
fail=0
skip=0

# run NAME COMMAND...: the command's PASS/FAIL/SKIP lines are counted; a command that exits
# non-zero without printing a FAIL line counts as one failure of its own.
run() {
    local name=$1
    shift
    local log=$logdir/$name.log start=$SECONDS
    "$@" >"$log" 2>&1
    local rc=$? p f s
    p=$(grep -c '^PASS' "$log")
    f=$(grep -c '^FAIL' "$log")
    s=$(grep -c '^SKIP' "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name (exit status $rc; see $log)" | tee -a "$log"
        f=1
    fi
    grep -E '^(FAIL|SKIP)' "$log" | sed "s/^/  [$name] /"
    printf '%-34s %3d passed, %d failed, %d skipped (%ds)\n' "$name" "$p" "$f" "$s" $((SECONDS - start))
    pass=$((pass + p))
    fail=$((fail + f))
    skip=$((skip + s))
}

# Fault tests kill ranks on purpose; keep UCX's own warnings about them out of the logs.
export UCX_LOG_LEVEL=error

run layers          "$src/tests/check_layers.sh" "$build" base transports core compress collectives init
run exports         "$src/tests/check_exports.sh" "$src" "$build"
run unit            "$build/tests/test_unit"
run codec           "$build/tests/test_codec"
run compressed      "$build/tests/test_compressed"
run coll-auto       "$build/tests/test_coll" 1 2 3 4 5 8
run coll-ring       env CCLZ_ALGO=ring "$build/tests/test_coll" 2 3 4 5 8
run coll-recdbl     env CCLZ_ALGO=rec_doubling "$build/tests/test_coll" 2 3 4 5 8
run coll-halvdbl    env CCLZ_ALGO=halving_doubling "$build/tests/test_coll" 2 3 4 5 8
run coll-direct    env CCLZ_ALGO=direct "$build/tests/test_coll" 2 3 4 5 8
run coll-checked    env CCLZ_CHECK_CALLS=1 "$build/tests/test_coll" 2 3 5
run compr-checked   env CCLZ_CHECK_CALLS=1 "$build/tests/test_compressed"
run coll-chunked    env CCLZ_CHUNK_SIZE=4K CCLZ_SMALL_MSG_SIZE=256 "$build/tests/test_coll" 3 4 5
run faults          "$build/tests/test_faults"
run nb              "$build/tests/test_nb"
run nb-nothread     env CCLZ_PROGRESS_THREAD=0 "$build/tests/test_nb"
run split           "$build/tests/test_split"
run hier            "$build/tests/test_hier"
run hier-checked    env CCLZ_CHECK_CALLS=1 "$build/tests/test_hier"
run hier-nothread   env CCLZ_PROGRESS_THREAD=0 "$build/tests/test_hier"
run robust          "$build/tests/test_robust"
run robust-checked  env CCLZ_CHECK_CALLS=1 "$build/tests/test_robust"
run robust-large    env CCLZ_SMALL_MSG_SIZE=256 "$build/tests/test_robust"
run asan            "$src/tests/asan.sh" "$src"
run python          "$src/tests/python.sh" "$src" "$build"
run mpi-shim        "$src/tests/mpi_shim.sh" "$build"
run fuzz            "$src/tests/fuzz.sh" "$build"
run launchers       "$src/tests/launchers.sh" "$build"
run netns           "$src/tests/netns.sh" "$build"
run build-nocuda    "$src/tests/build_nocuda.sh" "$src" "$build"
if [ -x "$build/tests/test_cuda" ]; then
    run cuda        "$build/tests/test_cuda"
else
    echo "SKIP cuda: built without CUDA (configure found no nvcc)"
fi

echo "logs: $logdir"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
