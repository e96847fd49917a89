#!/usr/bin/env bash
# layout_bench.sh: one compressed allreduce of ResNet-50's gradient (its 161 tensors,
# perf/shapes/resnet50.txt, 102 MB float32) on 4 emulated hosts at 1 Gbit/s
# (perf/netns_cluster.sh), side by side: flat (the buffer as one vector), with the layout
# (ccl_compressor_set_layout: per-tensor selection, one call) and as 161 separate compressed
# calls (one compressor per tensor, nonblocking, as a per-parameter hook issues them), for
# top-k 1%, DGC 0.1%, int8 and PowerSGD rank 4 (which has no flat form for these shapes:
# rows= of one matrix would mix the layers). Output to perf/results/layout/bench_<H>hosts.txt.
# Each spec's three forms run in turn, ROUNDS times (default 3), 10 calls each after 2 warm-ups:
# this machine is noisy, and the rounds show how much.
#   [ROUNDS=N] perf/layout_bench.sh [H [SPEC...]]     (default: 4, every spec above)
set -u
here=$(cd "$(dirname "$0")" && pwd)
h=${1:-4}
shift || true
specs=("$@")
[ ${#specs[@]} -gt 0 ] || specs=(topk:ratio=0.01 dgc:ratio=0.001 int:bits=8 powersgd:rank=4)
out=$here/results/layout
mkdir -p "$out"
log=$out/bench_${h}hosts.txt
rounds=${ROUNDS:-3}
shapes=$here/shapes/resnet50.txt
: >"$log"
echo "# $h hosts, 1 Gbit/s, ResNet-50's 161 tensors, $(date -u +%F), $(nproc) cores" | tee -a "$log"
for spec in "${specs[@]}"; do
    for round in $(seq "$rounds"); do
        for mode in flat layout separate; do
            case $spec in powersgd*) [ "$mode" = flat ] && continue ;; esac
            case $mode in
                flat) extra=(-b 102228128 -e 102228128) ;;
                layout) extra=(-L "$shapes") ;;
                separate) extra=(-L "$shapes" -S 1) ;;
            esac
            echo "## $spec $mode ($round)" | tee -a "$log"
            "$here/netns_cluster.sh" -n "$h" -r 1gbit -- "$here/cclz_perf" -n 10 -w 2 -c 0 \
                -i normal -z "$spec" "${extra[@]}" 2>&1 | grep -E '^ +[0-9]' | tee -a "$log"
        done
    done
done
