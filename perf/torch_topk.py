"""torch.topk on the GPU at ratio 0.001, for perf/cuda_codec_bench's selection table:
best of N CUDA-event timings after a warm-up, same input shape as the benchmark's."""
import sys

import torch


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 25_000_000
    iters = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    if not torch.cuda.is_available():
        print("# torch: no CUDA device")
        return
    g = torch.Generator(device="cuda").manual_seed(42)
    u = torch.rand(n, device="cuda", generator=g) - 0.5
    big = torch.rand(n, device="cuda", generator=g) < 1 / 97
    x = torch.where(big, u * 30, u * 0.01)
    k = int(n * 0.001)
    best = float("inf")
    torch.topk(x.abs(), k, sorted=False)
    torch.cuda.synchronize()
    for _ in range(iters):
        t0, t1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        t0.record()
        torch.topk(x.abs(), k, sorted=False)
        t1.record()
        t1.synchronize()
        best = min(best, t0.elapsed_time(t1))
    print(f"| torch.topk(abs(x), k, sorted=False) | {n} | {best:.3f} | |")


if __name__ == "__main__":
    main()
