#!/usr/bin/env bash
# time_to_accuracy.sh: perf/time_to_accuracy.py once per method on 4 emulated hosts
# (perf/netns_cluster.sh, one rank per host, links at RATE), one after the other in the same
# run; appends rank 0's JSON lines to perf/results/training/time_to_accuracy.jsonl.
#   perf/time_to_accuracy.sh STEPS RATE METHOD...   e.g. 1000 1gbit gloo torch-fp16 cclz-dgc
# Needs root (network namespaces). Then: /usr/bin/python3 perf/plot_time_to_accuracy.py
set -u
here=$(cd "$(dirname "$0")" && pwd)
steps=$1 rate=$2
shift 2
out=$here/results/training/time_to_accuracy.jsonl
mkdir -p "$(dirname "$out")"
for m in "$@"; do
    "$here/netns_cluster.sh" -n 4 -r "$rate" -- env GLOO_SOCKET_IFNAME=eth0 CCLZ_TIMEOUT=120 \
        /usr/bin/python3 "$here/time_to_accuracy.py" --method "$m" --steps "$steps" 2>/dev/null |
        grep --line-buffered '^{' | sed -u "s/}\$/, \"rate\": \"$rate\"}/" | tee -a "$out"
done
