#!/bin/sh
# The GPU codec benchmark and, beside its selection table, torch.topk on the same size.
# Run from the build tree on a machine with a GPU:  perf/cuda_bench.sh [cuda_codec_bench args]
set -e
dir=$(dirname "$0")
"$dir/cuda_codec_bench" "$@"
python3 "$dir/torch_topk.py" 25000000 20 || echo "# torch.topk not measured (no PyTorch with CUDA)"
