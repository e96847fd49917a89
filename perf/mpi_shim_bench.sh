#!/usr/bin/env bash
# mpi_shim_bench.sh: perf/mpi_allreduce_perf (an ordinary MPI program) on 4 emulated hosts
# (perf/netns_cluster.sh --mpi), plain Open MPI and then under LD_PRELOAD=libcclz_mpi.so with
# each SPEC given, one after the other in the same run; prints the times side by side.
#   perf/mpi_shim_bench.sh RATE SPEC... [-- mpi_allreduce_perf options]
#   e.g. perf/mpi_shim_bench.sh 1gbit int:bits=8 dgc:ratio=0.001 -- -b 1K -e 256M -f 4
# Float sums with normally distributed inputs (-i normal: lossy results are not checked).
set -u
here=$(cd "$(dirname "$0")" && pwd)
shim=$(cd "$here/.." && pwd)/.libs/libcclz_mpi.so
rate=$1
shift
specs=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do specs+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(-b 1K -e 256M -f 4 -n 10 -w 2)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
env=(-x CCLZ_IFNAME -x UCX_TLS -x UCX_NET_DEVICES -x CCLZ_TIMEOUT=60 -x UCX_LOG_LEVEL=error)
"$here/netns_cluster.sh" -n 4 -r "$rate" --mpi -- "${env[@]}" \
    "$here/mpi_allreduce_perf" -i normal "${args[@]}" >"$out/plain" || exit 1
cols="plain"
for s in "${specs[@]}"; do
    f=$out/$(echo "$s" | tr -c 'a-z0-9\n' _)
    "$here/netns_cluster.sh" -n 4 -r "$rate" --mpi -- "${env[@]}" -x LD_PRELOAD="$shim" \
        -x CCLZ_COMPRESS="$s" "$here/mpi_allreduce_perf" -i normal "${args[@]}" >"$f" || exit 1
    cols="$cols $s"
done
echo "# MPI_Allreduce float sum, 4 emulated hosts at $rate: time in us per call (ratio to plain)"
echo "# size $cols"
files=("$out/plain")
for s in "${specs[@]}"; do files+=("$out/$(echo "$s" | tr -c 'a-z0-9\n' _)"); done
for size in $(grep -v '^#' "$out/plain" | awk '$1 ~ /^[0-9]+$/ {print $1}'); do
    line="$size"
    base=$(awk -v s="$size" '$1 == s {print $5}' "$out/plain")
    for f in "${files[@]}"; do
        t=$(awk -v s="$size" '$1 == s {print $5}' "$f")
        line="$line $t($(awk -v a="$t" -v b="$base" 'BEGIN {printf "%.2f", a / b}'))"
    done
    echo "$line"
done
