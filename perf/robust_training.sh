#!/usr/bin/env bash
# robust_training.sh: examples/robust_fmnist.py under every attack, MoNNA against the plain
# average, and the honest workers alone, for n = 5 with f = 1 and n = 9 with f = 2 (local
# ranks under cclz_run); appends rank 0's JSON lines to perf/results/robust/$RUN.jsonl.
#   perf/robust_training.sh [STEPS]        (default 800)
# TRAIN_ARGS adds options to every run (TRAIN_ARGS="--alpha 10": milder heterogeneity); RUN
# names the results file (default training).
set -u
here=$(cd "$(dirname "$0")" && pwd)
steps=${1:-800}
out=$here/results/robust/${RUN:-training}.jsonl
mkdir -p "$(dirname "$out")"
run() { # NP ARGS...
    local np=$1
    shift
    CCLZ_TIMEOUT=120 UCX_LOG_LEVEL=error "$here/../tools/cclz_run" -np "$np" /usr/bin/python3 \
        "$here/../examples/robust_fmnist.py" --steps "$steps" ${TRAIN_ARGS:-} "$@" 2>/dev/null |
        grep '^{' | tee -a "$out"
}
for cfg in "5 1" "9 2"; do
    set -- $cfg
    n=$1 f=$2
    run $((n - f)) --agg average --f 0                     # the honest workers alone
    run "$n" --agg monna --f "$f" --attack none
    for a in signflip noise alie ipm nan; do
        run "$n" --agg monna --f "$f" --attack "$a"
        run "$n" --agg average --f "$f" --attack "$a"
    done
done
