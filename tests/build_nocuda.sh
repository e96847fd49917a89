#!/usr/bin/env bash
# build_nocuda.sh: the tree builds without CUDA and hwloc too (configure --with-cuda=no
# --with-hwloc=no), library, tools and perf programs, from a copy of the sources; cclz_perf -G 1
# then says it has no CUDA, and cclz_info --topology reports the cores alone.
# Skipped where this build has no CUDA (the main build already is that build).
set -u
src=$1 build=$2
if [ ! -x "$build/tests/test_cuda" ]; then
    echo "SKIP build without CUDA: this build is one"
    exit 0
fi
tmp=$(mktemp -d /tmp/cclz_nocuda.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$src/tests/copy_sources.sh" "$src" "$tmp"
cd "$tmp" || exit 1
log=$tmp/build.log
if ./autogen.sh >"$log" 2>&1 && ./configure -q --with-cuda=no --with-hwloc=no >>"$log" 2>&1 &&
    make -j"$(nproc)" >>"$log" 2>&1; then
    echo "PASS configure --with-cuda=no --with-hwloc=no: the library, tools and perf programs build"
else
    tail -20 "$log"
    echo "FAIL configure --with-cuda=no --with-hwloc=no: the build failed"
    exit 1
fi
msg=$(LD_LIBRARY_PATH=.libs perf/.libs/cclz_perf -G 1 -b 1K -e 1K 2>&1)
if [ $? -ne 0 ] && [[ $msg == *"built without CUDA"* ]]; then
    echo "PASS cclz_perf -G 1 built without CUDA: refused with the reason"
else
    echo "FAIL cclz_perf -G 1 built without CUDA: $msg"
fi
msg=$(timeout 120 tools/cclz_run -np 2 tools/cclz_info --topology 2>&1)
if [ $? -eq 0 ] && [[ $msg == *"rank 1: host 0"*"cores "*"(no hwloc: cores only)"* ]]; then
    echo "PASS cclz_info --topology built without hwloc: hosts and cores, no NUMA or devices"
else
    echo "FAIL cclz_info --topology built without hwloc: $msg"
fi
