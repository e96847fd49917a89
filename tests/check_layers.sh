#!/usr/bin/env bash
# check_layers.sh BUILD LAYER...: the layers' convenience libraries, lowest first, each under
# BUILD/src/LAYER/.libs/libcclz_LAYER.a. Fails, naming each symbol, where a layer uses a
# symbol that only a layer above it defines: calls go down, never up. `make` runs it after
# building the layers; the suite runs it too.
set -u
nm=${NM:-nm}
build=$1
shift
layers=("$@")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for l in "${layers[@]}"; do
    a=$build/src/$l/.libs/libcclz_$l.a
    if [ ! -f "$a" ]; then
        echo "FAIL layers: $a is missing (build first)"
        exit 1
    fi
    $nm -g --defined-only "$a" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u >"$tmp/def.$l"
    $nm -g --undefined-only "$a" 2>/dev/null | awk '$1 == "U" { print $2 }' | sort -u >"$tmp/use.$l"
done
bad=0
for ((i = 0; i < ${#layers[@]}; i++)); do
    low=${layers[i]}
    for ((j = i + 1; j < ${#layers[@]}; j++)); do
        high=${layers[j]}
        # Symbols the lower layer uses, the higher defines, and the lower does not define.
        comm -12 "$tmp/use.$low" "$tmp/def.$high" | comm -23 - "$tmp/def.$low" >"$tmp/up"
        while read -r sym; do
            echo "FAIL layers: $low uses $sym, which $high (a layer above it) defines"
            bad=1
        done <"$tmp/up"
    done
done
if [ "$bad" = 0 ]; then
    echo "PASS layers: ${layers[*]}: each uses only the layers below it"
fi
exit "$bad"
