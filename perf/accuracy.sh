#!/usr/bin/env bash
# accuracy.sh: examples/train_fmnist.py once per method, 4 local ranks under cclz_run, the
# same seed; appends rank 0's per-epoch JSON lines to perf/results/training/fmnist.jsonl.
#   perf/accuracy.sh EPOCHS METHOD...      (methods: examples/train_fmnist.py --help)
# TRAIN_ARGS adds options to every run (TRAIN_ARGS=--hetero: each rank sees a few classes);
# RUN names the results file (default fmnist: results/training/fmnist.jsonl).
set -u
here=$(cd "$(dirname "$0")" && pwd)
epochs=$1
shift
out=$here/results/training/${RUN:-fmnist}.jsonl
mkdir -p "$(dirname "$out")"
for m in "$@"; do
    CCLZ_TIMEOUT=60 "$here/../tools/cclz_run" -np 4 /usr/bin/python3 \
        "$here/../examples/train_fmnist.py" --method "$m" --epochs "$epochs" ${TRAIN_ARGS:-} 2>/dev/null |
        grep '^{' | tee -a "$out"
done
