#!/usr/bin/env bash
# latency_ab.sh: 8-byte float sum allreduce on 4 local ranks, two builds of cclz in
# alternating runs (so both see the same machine load); prints every pair, the medians and
# the median of the per-pair ratios.
#   perf/latency_ab.sh OLD_BUILD_DIR NEW_BUILD_DIR [RUNS]
set -u
old=$1 new=$2 runs=${3:-16}
t() { "$1/perf/cclz_perf" -np 4 -b 8 -e 8 -n 5000 -w 200 | grep -v '^#' | tail -1 | awk '{ print $5 }'; }
pairs=$(mktemp)
trap 'rm -f "$pairs"' EXIT
echo "# 8-byte float sum allreduce, 4 local ranks, 5000 calls per run; us per call"
printf '%4s %10s %10s\n' run old new
for r in $(seq "$runs"); do
    printf '%4d %10s %10s\n' "$r" "$(t "$old")" "$(t "$new")" | tee -a "$pairs"
done
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
printf 'median %9s %10s  (median of new/old per pair = %s)\n' \
    "$(awk '{ print $2 }' "$pairs" | median)" "$(awk '{ print $3 }' "$pairs" | median)" \
    "$(awk '{ printf "%.3f\n", $3 / $2 }' "$pairs" | median)"
