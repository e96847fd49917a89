#!/usr/bin/env bash
# Runs perf/mem_probe.c's passes in 1, 2 and 4 processes at once. With one memory (and here
# fewer cores than processes) for all, each copy's times are what one rank's passes over a
# 100 MB gradient take while that many ranks share the machine: a floor for a compressed
# call's time. Usage: perf/mem_probe.sh [REPS]
set -euo pipefail
reps=${1:-10}
bin=$(mktemp -d)/mem_probe
trap 'rm -rf "$(dirname "$bin")"' EXIT
"${CC:-cc}" -O3 -march=native -o "$bin" "$(dirname "$0")/mem_probe.c" -lm
for procs in 1 2 4; do
    for _ in $(seq "$procs"); do "$bin" "$reps" & done | sed "s/^/$procs at once: /"
    wait
done
