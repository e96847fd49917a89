#!/usr/bin/env bash
# compressed_bench.sh: compressed allreduce on an emulated cluster (perf/netns_cluster.sh),
# side by side in one run with Open MPI's MPI_Allreduce and cclz's exact ring: 100 MB of
# float32 per method, for each host count and link rate; then a sweep of sizes comparing
# "auto" with the exact ring. Writes perf/results/compressed/*.json and a summary table
# (tsv) that perf/plot_compressed.py turns into a PNG. Inputs are normally distributed, as
# gradients are (cclz_perf -i normal). Needs root.
#
#   perf/compressed_bench.sh [-n "4 8"] [-r "1gbit 10gbit"] [-i ITERS] [--no-sweep|--sweep-only]
#                            [-o "name,name,..."] [-t TAG] [-R ROUNDS]
# -o runs only the named methods ("Open MPI" included); -t writes summary_TAG.tsv instead of
# summary.tsv; -R sets the sweep's alternating rounds (default 3). auto's 100 MB runs warm up
# over its 6 trial calls.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-$here/..}
hosts="4 8" rates="1gbit 10gbit" iters=3 sweep=1 main=1 only="" tag=summary rounds=3
while [ $# -gt 0 ]; do
    case $1 in
        -n) hosts=$2; shift 2 ;;
        -r) rates=$2; shift 2 ;;
        -i) iters=$2; shift 2 ;;
        --no-sweep) sweep=0; shift ;;
        --sweep-only) main=0; shift ;;
        -o) only=$2; shift 2 ;;
        -t) tag=summary_$2; shift 2 ;;
        -R) rounds=$2; shift 2 ;;
        *) echo "usage: $0 [-n HOSTS] [-r RATES] [-i ITERS] [--no-sweep|--sweep-only] [-o NAMES] [-t TAG] [-R ROUNDS]" >&2; exit 2 ;;
    esac
done
out=$here/results/compressed
mkdir -p "$out"
tsv=$out/$tag.tsv
[ "$main" = 1 ] && echo -e "hosts\trate\tmethod\tbytes\ttime_us" >"$tsv"
methods=("exact ring|" "int8 sra|int:bits=8" "int4 sra|int:bits=4" "dgc 0.001|dgc:ratio=0.001"
         "topk 0.001|topk:ratio=0.001" "auto|auto" "int8 ring|int:bits=8,algo=ring"
         "dgc sparse_rd|dgc:ratio=0.001,algo=sparse_rd" "dgc sparse_split|dgc:ratio=0.001,algo=sparse_split"
         "powersgd r4|powersgd:rank=4,rows=5000" "topk 0.001 no EF|topk:ratio=0.001,ef=none"
         "bf16|cast:type=bf16" "sign|sign")
wanted() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }
time_of() { grep -o '"time_us": [0-9.]*' "$1" | tail -1 | awk '{print $2}'; }
for n in $hosts; do
    [ "$main" = 1 ] || break
    for rate in $rates; do
        f=$out/mpi_${n}_${rate}.json
        wanted "Open MPI" && "$here/netns_cluster.sh" -n "$n" -r "$rate" --mpi -- "$build/perf/mpi_allreduce_perf" \
            -b 100000000 -e 100000000 -n "$iters" -w 1 -i normal -J "$f" >/dev/null 2>&1 &&
            echo -e "$n\t$rate\tOpen MPI\t100000000\t$(time_of "$f")" >>"$tsv"
        for m in "${methods[@]}"; do
            name=${m%%|*} spec=${m#*|}
            wanted "$name" || continue
            f=$out/cclz_${n}_${rate}_$(echo "$name" | tr ' .' '__').json
            warm=1
            [ "$spec" = auto ] && warm=6
            CCLZ_ALGO=ring "$here/netns_cluster.sh" -n "$n" -r "$rate" -- \
                "$build/perf/cclz_perf" -b 100000000 -e 100000000 -n "$iters" -w "$warm" -i normal -J "$f" \
                ${spec:+-z "$spec"} >/dev/null 2>&1 &&
                echo -e "$n\t$rate\t$name\t100000000\t$(time_of "$f")" >>"$tsv"
        done
    done
done
if [ "$sweep" = 1 ]; then
    # Alternating rounds of the exact ring and auto, so both see the same load; the table is
    # the median per size. Small calls on netns TCP are noisy: many calls there, few at
    # 256 MB. Warm-up covers auto's trial calls (3 of each method on a new buffer).
    sw=$out/sweep.tsv raw=$out/sweep_rounds.tsv
    echo -e "rate\tround\tmethod\tbytes\ttime_us" >"$raw"
    for rate in $rates; do
        for round in $(seq "$rounds"); do
            for m in "exact ring|" "auto|auto"; do
                name=${m%%|*} spec=${m#*|}
                for part in "-b 4K -e 64K -f 4 -n 100 -w 6" "-b 256K -e 64M -f 4 -n 10 -w 6" \
                            "-b 256M -e 256M -n 2 -w 6"; do
                    f=$out/sweep_${rate}_${name// /_}_${part%% -e*}.json
                    f=${f// /}
                    CCLZ_ALGO=ring "$here/netns_cluster.sh" -n 4 -r "$rate" -- "$build/perf/cclz_perf" \
                        $part -i normal -J "$f" ${spec:+-z "$spec"} >/dev/null 2>&1
                    grep -o '"size": [0-9]*, "count": [0-9]*, "time_us": [0-9.]*' "$f" |
                        awk -v r="$rate" -v k="$round" -v m="$name" \
                            '{gsub(",",""); print r "\t" k "\t" m "\t" $2 "\t" $6}' >>"$raw"
                done
            done
        done
    done
    echo -e "rate\tmethod\tbytes\ttime_us" >"$sw"
    tail -n +2 "$raw" | sort -t $'\t' -k1,1 -k3,3 -k4,4n -k5,5g |
        awk -F'\t' '{ key = $1 "\t" $3 "\t" $4; v[key, ++n[key]] = $5; if (!(key in seen)) { seen[key] = 1; order[++nk] = key } }
             END { for (i = 1; i <= nk; i++) { k = order[i]; print k "\t" v[k, int((n[k] + 1) / 2)] } }' >>"$sw"
fi
[ "$main" = 1 ] && column -t -s $'\t' "$tsv"
if [ "$sweep" = 1 ]; then
    echo "# auto against the exact ring, 4 hosts, median of $rounds alternating rounds"
    { echo -e "rate\tbytes\texact_us\tauto_us\tauto/exact"
      awk -F'\t' 'NR > 1 { t[$1 "\t" $3, $2] = $4; k[$1 "\t" $3] = 1 }
           END { for (x in k) printf "%s\t%.0f\t%.0f\t%.2f\n", x, t[x, "exact ring"], t[x, "auto"], t[x, "auto"] / t[x, "exact ring"] }' \
          "$out/sweep.tsv" | sort -t $'\t' -k1,1 -k2,2n; } | column -t -s $'\t'
fi
exit 0
