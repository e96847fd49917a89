#!/usr/bin/env bash
# compressed_bench.sh: compressed allreduce on an emulated cluster (perf/netns_cluster.sh),
# side by side in one run with Open MPI's MPI_Allreduce and cclz's exact ring: 100 MB of
# float32 per method, for each host count and link rate; then a sweep of sizes comparing
# "auto" with the exact ring. Writes perf/results/compressed/*.json and a summary table
# (tsv) that perf/plot_compressed.py turns into a PNG. Needs root.
#
#   perf/compressed_bench.sh [-n "4 8"] [-r "1gbit 10gbit"] [-i ITERS] [--no-sweep|--sweep-only]
#                            [-o "name,name,..."] [-t TAG]
# -o runs only the named methods ("Open MPI" included); -t writes summary_TAG.tsv instead of
# summary.tsv.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-$here/..}
hosts="4 8" rates="1gbit 10gbit" iters=3 sweep=1 main=1 only="" tag=summary
while [ $# -gt 0 ]; do
    case $1 in
        -n) hosts=$2; shift 2 ;;
        -r) rates=$2; shift 2 ;;
        -i) iters=$2; shift 2 ;;
        --no-sweep) sweep=0; shift ;;
        --sweep-only) main=0; shift ;;
        -o) only=$2; shift 2 ;;
        -t) tag=summary_$2; shift 2 ;;
        *) echo "usage: $0 [-n HOSTS] [-r RATES] [-i ITERS] [--no-sweep|--sweep-only] [-o NAMES] [-t TAG]" >&2; exit 2 ;;
    esac
done
out=$here/results/compressed
mkdir -p "$out"
tsv=$out/$tag.tsv
[ "$main" = 1 ] && echo -e "hosts\trate\tmethod\tbytes\ttime_us" >"$tsv"
methods=("exact ring|" "int8 sra|int:bits=8" "int4 sra|int:bits=4" "dgc 0.001|dgc:ratio=0.001"
         "topk 0.001|topk:ratio=0.001" "auto|auto" "int8 ring|int:bits=8,algo=ring"
         "dgc sparse_rd|dgc:ratio=0.001,algo=sparse_rd" "dgc sparse_split|dgc:ratio=0.001,algo=sparse_split"
         "powersgd r4|powersgd:rank=4,rows=5000")
wanted() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }
time_of() { grep -o '"time_us": [0-9.]*' "$1" | tail -1 | awk '{print $2}'; }
for n in $hosts; do
    [ "$main" = 1 ] || break
    for rate in $rates; do
        f=$out/mpi_${n}_${rate}.json
        wanted "Open MPI" && "$here/netns_cluster.sh" -n "$n" -r "$rate" --mpi -- "$build/perf/mpi_allreduce_perf" \
            -b 100000000 -e 100000000 -n "$iters" -w 1 -J "$f" >/dev/null 2>&1 &&
            echo -e "$n\t$rate\tOpen MPI\t100000000\t$(time_of "$f")" >>"$tsv"
        for m in "${methods[@]}"; do
            name=${m%%|*} spec=${m#*|}
            wanted "$name" || continue
            f=$out/cclz_${n}_${rate}_$(echo "$name" | tr ' .' '__').json
            CCLZ_ALGO=ring "$here/netns_cluster.sh" -n "$n" -r "$rate" -- \
                "$build/perf/cclz_perf" -b 100000000 -e 100000000 -n "$iters" -w 1 -J "$f" \
                ${spec:+-z "$spec"} >/dev/null 2>&1 &&
                echo -e "$n\t$rate\t$name\t100000000\t$(time_of "$f")" >>"$tsv"
        done
    done
done
if [ "$sweep" = 1 ]; then
    sw=$out/sweep.tsv
    echo -e "rate\tmethod\tbytes\ttime_us" >"$sw"
    for rate in $rates; do
        for m in "exact ring|" "auto|auto"; do
            name=${m%%|*} spec=${m#*|}
            # Small sizes are noisy here: more iterations there, fewer at 256 MB.
            for part in "-b 4K -e 64M -f 4 -n 10 -w 2" "-b 256M -e 256M -n 2 -w 1"; do
                f=$out/sweep_${rate}_${name// /_}_${part%% -e*}.json
                f=${f// /}
                CCLZ_ALGO=ring "$here/netns_cluster.sh" -n 4 -r "$rate" -- "$build/perf/cclz_perf" \
                    $part -J "$f" ${spec:+-z "$spec"} >/dev/null 2>&1
                grep -o '"size": [0-9]*, "count": [0-9]*, "time_us": [0-9.]*' "$f" |
                    awk -v r="$rate" -v m="$name" '{gsub(",",""); print r "\t" m "\t" $2 "\t" $6}' >>"$sw"
            done
        done
    done
fi
[ "$main" = 1 ] && column -t -s $'\t' "$tsv"
[ "$sweep" = 1 ] && column -t -s $'\t' "$out/sweep.tsv"
exit 0
