#!/usr/bin/env bash
# asan.sh: the nonblocking tests (test_nb), with and without the progress thread, and the
# robust calls' hostile peers (test_robust) and the hierarchical allreduce (test_hier), on a
# build with AddressSanitizer and LeakSanitizer, from a copy of the sources: no request, queue
# or thread leaks, no use after free on any path (abort, kill, destroy with requests pending,
# refused messages, sub-communicators).
set -u
src=$1
tmp=$(mktemp -d /tmp/cclz_asan.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$src/tests/copy_sources.sh" "$src" "$tmp"
cd "$tmp" || exit 1
log=$tmp/build.log
if ! { ./autogen.sh && ./configure -q --with-cuda=no CFLAGS="-O1 -g -fsanitize=address -fno-omit-frame-pointer" &&
       make -j"$(nproc)" libcclz.la && make -j"$(nproc)" tests/test_nb tests/test_robust tests/test_hier; } >"$log" 2>&1; then
    tail -20 "$log"
    echo "FAIL asan: the AddressSanitizer build failed"
    exit 1
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UCX_LOG_LEVEL=error
# One test binary's run, with settings (VAR=value ...): its lines, and any sanitizer report or
# failing status.
run_one() {
    local t=$1 log="$tmp/$1${2:+.$2}.log" what="$1${2:+, $2}"
    shift
    env "$@" "tests/$t" >"$log" 2>&1
    local rc=$?
    grep -E '^(PASS|FAIL)' "$log" | sed 's/^PASS /PASS asan: /; s/^FAIL /FAIL asan: /'
    if grep -q 'ERROR: \(AddressSanitizer\|LeakSanitizer\)' "$log"; then
        grep -A12 'ERROR: ' "$log" | head -40
        echo "FAIL asan: AddressSanitizer or LeakSanitizer reported an error ($what)"
    elif [ "$rc" -ne 0 ]; then
        echo "FAIL asan: $what exited with $rc"
    fi
}
for mode in 1 0; do
    run_one test_nb CCLZ_PROGRESS_THREAD=$mode
done
run_one test_robust
run_one test_hier
