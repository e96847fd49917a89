#!/usr/bin/env bash
# fuzz.sh: builds the decoder fuzz target with clang's libFuzzer and AddressSanitizer and
# runs it for a short while from the seed corpus in tests/corpus/decode. Skipped, with the
# reason, where clang or its fuzzer runtime is missing.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
build=$1
seconds=${CCLZ_FUZZ_SECONDS:-20}
out=$build/tests/fuzz_decode
if ! command -v clang >/dev/null; then
    echo "SKIP fuzz: clang is not installed (apt-get install clang libclang-rt-14-dev)"
    exit 0
fi
if ! clang -g -O1 -fsanitize=fuzzer,address,undefined -I"$src/include" -I"$src/src" \
        "$src/tests/fuzz_decode.c" "$src"/src/base/*.c "$src"/src/compress/*.c \
        "$src/src/collectives/patterns/sparse_vec.c" \
        "$src/src/core/reduce.c" -lm -o "$out" 2>"$build/tests/fuzz_build.log"; then
    # Tell a missing fuzzer runtime (skip) from our code failing to build (failure).
    probe=$(mktemp -d)
    echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' >"$probe/p.c"
    if clang -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" 2>/dev/null; then
        echo "FAIL fuzz: the decoders do not build as a libFuzzer target (see $build/tests/fuzz_build.log)"
        tail -5 "$build/tests/fuzz_build.log"
    else
        echo "SKIP fuzz: clang has no libFuzzer runtime (apt-get install libclang-rt-14-dev)"
    fi
    rm -rf "$probe"
    exit 0
fi
work=$(mktemp -d)
cp "$src"/tests/corpus/decode/* "$work"/
if "$out" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 "$work" >"$build/tests/fuzz.log" 2>&1; then
    echo "PASS fuzz: decoders survived $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$build/tests/fuzz.log" | grep -o '[0-9]*$') inputs in ${seconds} s"
else
    echo "FAIL fuzz: crash or sanitizer report, see $build/tests/fuzz.log"
    tail -30 "$build/tests/fuzz.log"
fi
rm -rf "$work"
