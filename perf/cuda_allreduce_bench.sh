#!/bin/bash
# Collectives on device buffers (cclz_perf -G 1), ranks sharing one GPU: encoded on the GPU,
# against the same calls staged through host memory (CCLZ_GPU_ENCODE=0) and on host buffers.
# Run from the build tree on a machine with a GPU:  perf/cuda_allreduce_bench.sh
# (NPS="2 4" rank counts; 100 MB of normally distributed float32, 10 calls after 3).
here=$(cd "$(dirname "$0")" && pwd)
B=$here/cclz_perf
for np in ${NPS:-2 4}; do
for z in "" int:bits=8 int:bits=4 dgc:ratio=0.001 topk:ratio=0.001; do
  for mode in "gpu|-G 1|1" "staged|-G 1|0" "host|-G 0|1"; do
    name=${mode%%|*}; rest=${mode#*|}; g=${rest%%|*}; enc=${rest#*|}
    r=$(CCLZ_GPU_ENCODE=$enc timeout 120 "$B" -np $np $g -b 100000000 -e 100000000 -n 10 -w 3 -i normal ${z:+-z $z} | grep -v "^#" | grep -v "^$" | tail -1)
    echo "np=$np ${z:-exact} $name: $r"
  done
done
done
