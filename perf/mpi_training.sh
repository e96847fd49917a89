#!/usr/bin/env bash
# mpi_training.sh: examples/train_mpi.py (plain mpi4py, one float32 gradient buffer per step)
# on 4 emulated hosts (perf/netns_cluster.sh --mpi, links at RATE), as it is and then under
# LD_PRELOAD=libcclz_mpi.so with each SPEC, one after the other in the same run; appends rank
# 0's JSON lines to perf/results/mpi_shim/training.jsonl.
#   perf/mpi_training.sh STEPS RATE SPEC...     e.g. 1000 1gbit int:bits=8
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
steps=$1 rate=$2
shift 2
out=$here/results/mpi_shim/training.jsonl
mkdir -p "$(dirname "$out")"
env=(-x CCLZ_IFNAME -x UCX_TLS -x UCX_NET_DEVICES -x CCLZ_TIMEOUT=120 -x UCX_LOG_LEVEL=error)
run() {
    "$here/netns_cluster.sh" -n 4 -r "$rate" --mpi -- "${env[@]}" "$@" \
        /usr/bin/python3 "$root/examples/train_mpi.py" --steps "$steps" 2>/dev/null |
        grep --line-buffered '^{' | sed -u "s/}\$/, \"rate\": \"$rate\"}/" | tee -a "$out"
}
run
for s in "$@"; do
    run -x LD_PRELOAD="$root/.libs/libcclz_mpi.so" -x CCLZ_COMPRESS="$s"
done
