#!/usr/bin/env bash
# compare_mpi.sh: allreduce through cclz and through Open MPI's MPI_Allreduce, same sizes,
# same inputs, one after the other in the same run, printed side by side.
#   perf/compare_mpi.sh [-np N] [cclz_perf/mpi_allreduce_perf options...]
# With --netns N RATE the two run across an emulated cluster (perf/netns_cluster.sh) instead
# of N local ranks.
set -u
here=$(cd "$(dirname "$0")" && pwd)
np=4 netns="" rate=""
case ${1:-} in
    -np) np=$2; shift 2 ;;
    --netns) netns=$2; rate=$3; np=$2; shift 3 ;;
esac
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(-b 8 -e 256M -f 4 -n 20 -w 5)
out=$(mktemp -d)
if [ -n "$netns" ]; then
    "$here/netns_cluster.sh" -n "$np" -r "$rate" -- "$here/cclz_perf" "${args[@]}" >"$out/cclz" || exit 1
    "$here/netns_cluster.sh" -n "$np" -r "$rate" --mpi -- "$here/mpi_allreduce_perf" "${args[@]}" >"$out/mpi" || exit 1
else
    "$here/cclz_perf" -np "$np" "${args[@]}" >"$out/cclz" || exit 1
    mpirun --allow-run-as-root --oversubscribe -np "$np" "$here/mpi_allreduce_perf" "${args[@]}" >"$out/mpi" || exit 1
fi
echo "# allreduce float sum, $np ranks${netns:+, emulated hosts at $rate}; time in us, busbw in GB/s"
printf '%12s %12s %12s %9s %9s %10s\n' size cclz_time mpi_time cclz_bw mpi_bw time_ratio
join <(grep -v '^#' "$out/cclz" | awk '{print $1, $5, $7, $8}' | sort -k1,1) \
     <(grep -v '^#' "$out/mpi" | awk '{print $1, $5, $7, $8}' | sort -k1,1) |
    sort -n | awk '{ printf "%12d %12.1f %12.1f %9.3f %9.3f %10.2f%s\n", $1, $2, $5, $3, $6, $2 / $5, ($4 + $7) ? "  WRONG RESULTS" : "" }'
echo "# time_ratio = cclz time / Open MPI time (below 1: cclz is faster)"
rm -rf "$out"
