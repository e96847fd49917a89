#!/usr/bin/env bash
# check_exports.sh SRC BUILD: libcclz.so exports exactly the functions include/cclz.h
# declares: nothing internal becomes part of the ABI, and nothing public is missing.
set -u
src=$1 build=$2
so=$build/.libs/libcclz.so
if [ ! -f "$so" ]; then
    echo "SKIP exports: no shared library was built ($so)"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
grep -oE '^[a-z_ ]+[ *]ccl_[a-z0-9_]+\(' "$src/include/cclz.h" | grep -oE 'ccl_[a-z0-9_]+\(' | tr -d '(' |
    sort -u >"$tmp/api"
nm -D --defined-only "$so" | awk 'NF == 3 && $2 ~ /[TtWi]/ { print $3 }' | sort -u >"$tmp/exported"
extra=$(comm -13 "$tmp/api" "$tmp/exported" | tr '\n' ' ')
missing=$(comm -23 "$tmp/api" "$tmp/exported" | tr '\n' ' ')
if [ -n "$extra$missing" ]; then
    echo "FAIL exports: exported but not in cclz.h: [$extra]; in cclz.h but not exported: [$missing]"
    exit 1
fi
echo "PASS exports: libcclz.so exports the $(wc -l <"$tmp/api") functions of cclz.h and nothing else"
