#!/usr/bin/env bash
# fault_time.sh: time from a fault to the error on the other ranks, by path and by fault.
# 4 ranks; rank 2 meets the fault 300 ms into a loop of allreduces. Faults: SIGKILL with every
# rank on this host; SIGKILL, its link taken down, and SIGSTOP, each rank on its own emulated
# host (perf/netns_cluster.sh, TCP). Each cell is the worst rank's time (the last to return
# its error), median and maximum over the trials. Needs root for the emulated hosts.
#
#   perf/fault_time.sh [TRIALS] > perf/results/faults/time_to_error.md
set -u
here=$(cd "$(dirname "$0")" && pwd)
trials=${1:-3}
export CCLZ_TIMEOUT=${CCLZ_TIMEOUT:-5}
ft=$here/fault_time
stamp=/tmp/fault_time_stamp.$$
log=${FAULT_TIME_LOG:-/dev/null}

paths=(
    "exact ring, 16 MB|-a ring -n 4194304"
    "exact rec_doubling, 1 KB|-a rec_doubling -n 256"
    "int:bits=8 (sra), 16 MB|-s int:bits=8 -n 4194304"
    "int:bits=8,algo=ring, 16 MB|-s int:bits=8,algo=ring -n 4194304"
    "dgc:ratio=0.001 (sparse_allgather), 16 MB|-s dgc:ratio=0.001 -n 4194304"
    "topk:ratio=0.01,algo=sparse_rd, 16 MB|-s topk:ratio=0.01,algo=sparse_rd -n 4194304"
    "sign:scale=none (sign_vote), 16 MB|-s sign:scale=none -n 4194304"
    "powersgd:rank=4,rows=2048, 16 MB|-s powersgd:rank=4,rows=2048 -n 4194304"
    "auto, 16 MB|-s auto -n 4194304"
)

# One trial: prints the worst rank's seconds, or "none" if some rank saw no error.
trial() { # fault where args...
    local fault=$1 where=$2 out
    shift 2
    if [ "$where" = local ]; then
        out=$(timeout 120 "$ft" -np 4 -f "$fault" "$@" 2>>"$log")
    else
        out=$(timeout 120 "$here/netns_cluster.sh" -n 4 -- "$ft" -f "$fault" -t "$stamp" "$@" \
              2>>"$log")
    fi
    echo "$out" >>"$log"
    echo "$out" | awk '/^fault_time: rank/ { if ($6 == "no") bad = 1; for (i = 1; i < NF; i++)
        if ($i == "after") { t = $(i + 1); if (t > w) w = t } }
        END { if (bad || w == "") print "none"; else printf "%.3f\n", w }'
}

# Median and maximum of the trials, "-" if any trial saw no error.
cell() {
    local ts=() t
    for _ in $(seq "$trials"); do
        t=$(trial "$@")
        [ "$t" = none ] && { echo "no error"; return; }
        ts+=("$t")
    done
    printf '%s\n' "${ts[@]}" | sort -g | awk '{ a[NR] = $1 } END {
        printf "%.3f (max %.3f)", a[int((NR + 1) / 2)], a[NR] }'
}

echo "# Time from a fault to the error, by path"
echo
echo "\`perf/fault_time.sh $trials\` on $(date -u +%Y-%m-%d), $(nproc) cores, CCLZ_TIMEOUT=$CCLZ_TIMEOUT."
echo "4 ranks; rank 2 meets the fault 300 ms into a loop of allreduces. Seconds from the"
echo "fault until the last of the other ranks returns its error: median (max) of $trials trials."
echo "\"one host\": every rank on this host (shared memory); \"hosts\": each rank in its own"
echo "network namespace, TCP over veth. Link down and SIGSTOP rows also count the victim when"
echo "it is still running."
echo
echo "| path | kill, one host | kill, hosts | link down, hosts | SIGSTOP, hosts |"
echo "|---|---|---|---|---|"
for p in "${paths[@]}"; do
    name=${p%%|*}
    args=${p#*|}
    # shellcheck disable=SC2086
    row="| $name | $(cell kill local $args) | $(cell kill hosts $args)"
    case $name in
        "exact ring"* | dgc*)
            # shellcheck disable=SC2086
            row="$row | $(cell linkdown hosts $args) | $(cell stop hosts $args) |" ;;
        *) row="$row | | |" ;;
    esac
    echo "$row"
done
rm -f "$stamp"
