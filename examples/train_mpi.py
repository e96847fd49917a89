#!/usr/bin/python3
"""train_mpi.py: a plain MPI data-parallel training program (mpi4py, no cclz in it): each
step packs every gradient into one float32 buffer, sums it with MPI_Allreduce in place and
divides by the rank count. Run it as it is, or under the cclz MPI shim:

    mpirun -np 4 /usr/bin/python3 examples/train_mpi.py
    mpirun -np 4 -x LD_PRELOAD=libcclz_mpi.so -x CCLZ_COMPRESS=int:bits=8 \\
        /usr/bin/python3 examples/train_mpi.py

The model is the wide MLP of perf/time_to_accuracy.py (5.8M parameters) on Fashion-MNIST,
batch 4 per rank, SGD lr 0.02 with momentum 0.9, the same seed on every rank. Rank 0 prints
a JSON line every --eval-every steps: training seconds (evaluation excluded) and the test
accuracy on the first --test images. Needs python3-mpi4py and dataset-fashion-mnist."""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from mpi4py import MPI

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_fmnist import StepData, wide_mlp  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--batch", type=int, default=4, help="per rank")
    ap.add_argument("--test", type=int, default=2000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()

    torch.manual_seed(0)
    model = wide_mlp()
    params = list(model.parameters())
    flat = np.zeros(sum(p.numel() for p in params), dtype=np.float32)  # one gradient buffer
    flat_t = torch.from_numpy(flat)
    opt = torch.optim.SGD(params, lr=0.02, momentum=0.9)

    data = StepData(rank, size, args.batch, args.test)
    trained = 0.0
    for step in range(1, args.steps + 1):
        xb, yb = data.step(step)
        t0 = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        off = 0
        for p in params:  # pack
            flat_t[off:off + p.numel()].copy_(p.grad.view(-1))
            off += p.numel()
        comm.Allreduce(MPI.IN_PLACE, flat, op=MPI.SUM)
        flat_t.div_(size)
        off = 0
        for p in params:  # unpack
            p.grad.view(-1).copy_(flat_t[off:off + p.numel()])
            off += p.numel()
        if np.isfinite(flat).all():
            opt.step()
        trained += time.perf_counter() - t0
        if step % args.eval_every == 0 or step == args.steps:
            right = np.array([data.correct(model)], dtype=np.int64)
            comm.Allreduce(MPI.IN_PLACE, right, op=MPI.SUM)
            if rank == 0:
                print(json.dumps({"shim": os.environ.get("CCLZ_COMPRESS", "int:bits=8")
                                  if "libcclz_mpi" in os.environ.get("LD_PRELOAD", "") else "none",
                                  "step": step, "seconds": round(trained, 2),
                                  "test_acc": round(int(right[0]) / data.ntest, 4)}), flush=True)


if __name__ == "__main__":
    main()
