#!/usr/bin/env bash
# hier_bench.sh: flat against hierarchical allreduce of 100 MB float32 on H emulated hosts of
# K ranks each (perf/netns_cluster.sh -p K) at 1 Gbit/s between hosts, side by side in one run:
# exact (flat ring, hier, and the cost model's own choice), int8 (flat sra, hier), DGC 0.1%
# and top-k 1% (flat sparse_allgather, sparse_hier, hier's sharded host sums, and the cost
# model's choice). Output to
# perf/results/hier/bench_<H>x<K>.txt; the table in perf/results/hier/README.md comes from it.
#   perf/hier_bench.sh [H K]               (default: 2 2)
set -u
here=$(cd "$(dirname "$0")" && pwd)
h=${1:-2} k=${2:-2}
out=$here/results/hier
mkdir -p "$out"
log=$out/bench_${h}x${k}.txt
bytes=100000000
: >"$log"
run() { # name, env..., then -- and cclz_perf's options
    local name=$1; shift
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    echo "## $name" | tee -a "$log"
    env "${envs[@]}" "$here/netns_cluster.sh" -n "$h" -p "$k" -r 1gbit -- "$here/cclz_perf" \
        -n 3 -w 1 -c 0 -i normal -b $bytes -e $bytes "$@" 2>&1 |
        grep -E '^ +[0-9]|algorithm .*cost model|of 25000000 x 4 B on' |
        sed -E 's/^cclz [0-9]+ [A-Z]+ [a-z_.]+:[0-9]+ //; s/^rank [0-9]+: //' | awk '!seen[$0]++' |
        tee -a "$log"
}
echo "# $h hosts x $k ranks, 1 Gbit/s between hosts, $(date -u +%F), $(nproc) cores" | tee -a "$log"
run "exact flat ring" CCLZ_ALGO=allreduce:ring --
run "exact hier" CCLZ_ALGO=allreduce:hier --
run "exact, cost model's choice" CCLZ_LOG=debug --
run "int8 flat sra" CCLZ_HIER=1 -- -z int:bits=8,algo=sra
run "int8 hier" CCLZ_HIER=1 -- -z int:bits=8,algo=hier
run "int8, cost model's choice" CCLZ_LOG=info -- -z int:bits=8
# Sparse calls are short and this machine noisy: 10 calls each, flat and sparse_hier twice.
for sp in dgc:ratio=0.001 topk:ratio=0.01; do
    for round in 1 2; do
        run "$sp flat sparse_allgather ($round)" CCLZ_HIER=1 -- -n 10 -z $sp,algo=sparse_allgather
        run "$sp sparse_hier, relayed across hosts once ($round)" CCLZ_HIER=1 -- -n 10 \
            -z $sp,algo=sparse_hier
    done
    run "$sp hier (host sums, sharded)" CCLZ_HIER=1 -- -n 10 -z $sp,algo=hier
    run "$sp, cost model's choice" CCLZ_LOG=info -- -n 10 -z $sp
done
