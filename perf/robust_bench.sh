#!/usr/bin/env bash
# robust_bench.sh: ccl_allreduce_robust with 25M float32 per rank on H emulated hosts at 1 Gbit/s
# (perf/netns_cluster.sh), f = (H - 1) / 3 rounded down but at least 1: the exact allgather of
# the same vectors (what any rule must receive), the robust call exact and with int:bits=8
# under NNA, median and Krum, then each rule's compute alone on one core (perf/robust_rules on
# H vectors of 25M). Output to perf/results/robust/speed_<H>hosts.txt.
#   perf/robust_bench.sh [H...]            (default: 5 8)
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=$here/results/robust
mkdir -p "$out"
bytes=100000000 # 25M float32
hosts=${*:-5 8}
for h in $hosts; do
    f=$(( (h - 1) / 3 )); [ "$f" -ge 1 ] || f=1
    log=$out/speed_${h}hosts.txt
    : >"$log"
    cluster() { "$here/netns_cluster.sh" -n "$h" -r 1gbit -- "$here/cclz_perf" -n 3 -w 1 -c 0 "$@" 2>&1 |
                    grep -v '^\s*$' | tee -a "$log"; }
    echo "## $h hosts, f = $f, $(date -u +%F)" | tee -a "$log"
    cluster -t allgather -b $((h * bytes)) -e $((h * bytes)) -i normal
    for rule in nna median krum; do
        cluster -t robust -R "$rule:$f" -b $bytes -e $bytes -i normal
        cluster -t robust -R "$rule:$f" -z int:bits=8 -b $bytes -e $bytes -i normal
    done
    "$here/robust_rules" "$h" 25000000 "$f" 2 | tee -a "$log"
done
