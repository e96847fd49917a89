#!/usr/bin/python3
"""time_to_accuracy.py: one rank of a data-parallel training whose gradient exchange
dominates the step: a wide MLP (784-2048-2048-10, 5.8M parameters, 23 MB of float32
gradients) on Fashion-MNIST, batch 4 per rank (four ranks share two cores here, and a larger
batch makes the step compute-bound), SGD lr 0.02 with momentum 0.9 (cclz.torch.sgd), the
same seed and data order for every method. perf/time_to_accuracy.sh runs it on the
emulated cluster (perf/netns_cluster.sh).

Methods: gloo (DDP's own allreduce), torch-fp16 and torch-powersgd (PyTorch's fp16 and
PowerSGD rank-4 hooks over Gloo), cclz-int8, cclz-dgc, cclz-auto (cclz's DDP hook), and local
(no exchange at all: the compute alone, for the compute share).

Every --eval-every steps the clock stops, each rank scores its quarter of the first --test
test images,
and rank 0 prints a JSON line: training seconds so far, test accuracy, and the gradient bytes
rank 0 sent (cclz's counters; for PyTorch's hooks, what their allreduces carry)."""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "python"))
sys.path.insert(0, os.path.join(here, "..", "examples"))
import cclz  # noqa: E402
import cclz.torch  # noqa: E402
from train_fmnist import StepData, wide_mlp  # noqa: E402

CCLZ_SPECS = {"cclz-int8": "int:bits=8", "cclz-dgc": "dgc:ratio=0.001,warmup_steps=50",
              "cclz-auto": "auto"}
METHODS = ["gloo", "torch-fp16", "torch-powersgd", "local"] + sorted(CCLZ_SPECS)


def powersgd_bytes_per_step(model: nn.Module, rank: int, size: int) -> float:
    """What PyTorch's PowerSGD hook allreduces per step once compressing (rank-r P and Q of
    every matrix, vectors uncompressed), at a ring's 2 (P-1)/P per byte."""
    elems = 0
    for p in model.parameters():
        if p.dim() >= 2:
            rows, cols = p.shape[0], p[0].numel()
            elems += rank * (rows + cols)
        else:
            elems += p.numel()
    return 4.0 * elems * 2.0 * (size - 1) / size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", required=True, choices=METHODS)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--batch", type=int, default=4, help="per rank")
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--test", type=int, default=2000, help="test images scored")
    args = ap.parse_args()
    torch.set_num_threads(1)

    comm = cclz.Communicator.from_env()
    rank, size = comm.rank, comm.size
    store = os.environ.get("CCLZ_ROOT", "x").replace(":", "_").replace(".", "_")
    dist.init_process_group("gloo", init_method=f"file:///tmp/tta_{store}_{args.method}",
                            rank=rank, world_size=size)
    torch.manual_seed(0)
    model = wide_mlp()
    grad_bytes = 4.0 * sum(p.numel() for p in model.parameters())
    state = None
    if args.method == "local":
        net, per_step = model, 0.0
    else:
        net = nn.parallel.DistributedDataParallel(model)
        per_step = grad_bytes * 2.0 * (size - 1) / size  # a ring allreduce's bytes per rank
        if args.method == "torch-fp16":
            from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
            net.register_comm_hook(None, default_hooks.fp16_compress_hook)
            per_step /= 2
        elif args.method == "torch-powersgd":
            # With Debian's torch 1.13 this aborts inside Gloo at the first compressed step
            # ("op.preamble.length <= op.nbytes"), with one bucket or several, on 2 or 4 ranks.
            from torch.distributed.algorithms.ddp_comm_hooks import powerSGD_hook as ps
            net.register_comm_hook(ps.PowerSGDState(process_group=None, matrix_approximation_rank=4,
                                                    start_powerSGD_iter=2),
                                   ps.powerSGD_hook)
            per_step = powersgd_bytes_per_step(model, 4, size)
        elif args.method in CCLZ_SPECS:
            state = cclz.torch.CompressionState(CCLZ_SPECS[args.method], comm=comm,
                                                model=model)
            net.register_comm_hook(state, cclz.torch.allreduce_hook)
    opt = cclz.torch.sgd(net.parameters(), state, lr=args.lr, momentum=0.9)

    data = StepData(rank, size, args.batch, args.test)
    trained = 0.0
    for step in range(1, args.steps + 1):
        xb, yb = data.step(step)
        t0 = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(net(xb), yb).backward()
        if all(torch.isfinite(p.grad).all() for p in net.parameters()):
            opt.step()
        trained += time.perf_counter() - t0
        if step % args.eval_every == 0 or step == args.steps:
            right = np.array([data.correct(model)], dtype=np.int64)
            comm.allreduce(right)
            sent = (float(comm.stats()["bytes_sent"]) if state is not None
                    else per_step * step)
            if rank == 0:
                print(json.dumps({"method": args.method, "step": step,
                                  "seconds": round(trained, 2),
                                  "test_acc": round(int(right[0]) / data.ntest, 4),
                                  "bytes_sent": int(sent)}), flush=True)
    dist.destroy_process_group()
    if state is not None:
        state.close()
    comm.destroy()


if __name__ == "__main__":
    main()
