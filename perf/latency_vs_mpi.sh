#!/usr/bin/env bash
# latency_vs_mpi.sh: allreduce time at one message size, cclz against Open MPI, alternating runs
# so that both see the same machine load; prints every pair and the medians.
#   perf/latency_vs_mpi.sh [-np N] [-r RUNS] [-b BYTES] [-n ITERS]
# Extra environment (CCLZ_ALGO=...) passes through to cclz_perf.
set -u
here=$(cd "$(dirname "$0")" && pwd)
np=4 runs=10 bytes=8 iters=5000
while [ $# -gt 0 ]; do
    case $1 in
        -np) np=$2 ;;
        -r) runs=$2 ;;
        -b) bytes=$2 ;;
        -n) iters=$2 ;;
        *) echo "usage: $0 [-np N] [-r RUNS] [-b BYTES] [-n ITERS]" >&2; exit 2 ;;
    esac
    shift 2
done
opts=(-b "$bytes" -e "$bytes" -n "$iters" -w 200)
last_time() { grep -v '^#' | tail -1 | awk '{ print $5 }'; }
echo "# $bytes-byte float sum allreduce, $np local ranks, $iters calls per run; time per call in us"
printf '%4s %10s %10s\n' run cclz mpi
pairs=$(mktemp)
trap 'rm -f "$pairs"' EXIT
for r in $(seq "$runs"); do
    c=$("$here/cclz_perf" -np "$np" "${opts[@]}" | last_time) || exit 1
    m=$(mpirun --allow-run-as-root --oversubscribe -np "$np" "$here/mpi_allreduce_perf" "${opts[@]}" |
        last_time) || exit 1
    printf '%4d %10s %10s\n' "$r" "$c" "$m" | tee -a "$pairs"
done
median() { awk -v k="$1" '{ print $k }' "$pairs" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
c=$(median 2) m=$(median 3)
printf 'median %9s %10s  (cclz / mpi = %s)\n' "$c" "$m" "$(awk -v c="$c" -v m="$m" 'BEGIN { printf "%.2f", c / m }')"
