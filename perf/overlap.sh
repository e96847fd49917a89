#!/usr/bin/env bash
# overlap.sh: compute/communication overlap of a nonblocking 100 MB float32 allreduce on 2
# emulated hosts at 1 Gbit/s (perf/netns_cluster.sh), each rank pinned to its own core so its
# computation and its progress thread share that core: cclz exact, cclz int:bits=8, and Open
# MPI's MPI_Iallreduce. Writes perf/results/nonblocking/overlap.md and overlap.tsv; plot with
# /usr/bin/python3 perf/plot_overlap.py. Needs root.
#   perf/overlap.sh [ITERS]
set -u
here=$(cd "$(dirname "$0")" && pwd)
iters=${1:-3}
out=$here/results/nonblocking
mkdir -p "$out"
tsv=$out/overlap.tsv
md=$out/overlap.md
pin='exec taskset -c ${CCLZ_RANK:-${OMPI_COMM_WORLD_RANK:-0}}'
run() { # label, netns_cluster options..., -- command
    local label=$1
    shift
    "$here/netns_cluster.sh" -n 2 -r 1gbit "$@" 2>/dev/null | tee "$out/$label.txt" |
        awk -v l="$label" '!/^#/ && $1 ~ /^[0-9.]+$/ { print l "\t" $1 "\t" $2 "\t" $3 "\t" $4 "\t" $5 }'
}
printf 'method\tcompute_ms\ttotal_ms\tmax_ms\tratio\toverlap\n' >"$tsv"
run cclz-exact -- sh -c "$pin $here/overlap -b 100M -n $iters" >>"$tsv"
run cclz-int8 -- sh -c "$pin $here/overlap -b 100M -n $iters -z int:bits=8" >>"$tsv"
run mpi --mpi -- --bind-to none sh -c "$pin $here/mpi_overlap -b 100M -n $iters" >>"$tsv"
{
    echo "# Overlap of a nonblocking allreduce with computation"
    echo
    echo "\`perf/overlap.sh $iters\` on $(date -u +%Y-%m-%d), $(nproc) cores: 2 emulated hosts"
    echo "(network namespaces, TCP over veth limited to 1 Gbit/s by tc), one rank per host, each"
    echo "pinned to its own core, 100 MB float32 sum. Per row: issue the allreduce, compute for"
    echo "compute_ms on the rank's core, wait; total_ms is the slowest rank's mean of $iters"
    echo "iterations; ratio = total / max(compute, t_comm); overlap as OSU defines it,"
    echo "100 * (1 - (total - compute) / t_comm) (0 where compute is 0)."
    for f in cclz-exact cclz-int8 mpi; do
        echo
        echo "## $f"
        echo
        echo '```'
        grep -v '^\[' "$out/$f.txt"
        echo '```'
    done
} >"$md"
cat "$md"
