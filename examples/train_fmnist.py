#!/usr/bin/python3
"""train_fmnist.py: data-parallel training of a small CNN on Fashion-MNIST (Debian's
dataset-fashion-mnist) with DDP, the gradients averaged by Gloo (the reference) or by cclz's
DDP hook with a compressor per parameter (topk-flat and dgc-flat: one per bucket, the bucket
as one vector; topk-layout, dgc-layout, dgc-layout-dense1d and powersgd-layout: one per bucket
told its tensors).

    cclz_run -np 4 /usr/bin/python3 examples/train_fmnist.py --method int8 --epochs 3
    torchrun --nproc_per_node 4 examples/train_fmnist.py --method dgc

--method pufferfish trains full rank for --warmup-epochs, then factorizes the model
(cclz.torch.lowrank: conv2 and fc1 at rank 1/4, the first and last layers full rank) and
trains on with cclz's exact allreduce.

Every method starts from the same weights and sees the same data order (one seed). Each
rank trains on its own quarter of every epoch's shuffled data (--hetero: on the classes
rank, rank+P, ... only). Rank 0 prints one JSON line per epoch: test accuracy, and the
cumulative gradient bytes this rank sent (cclz's counters; for Gloo, the 2 (P-1)/P of the
gradient bytes a ring allreduce sends)."""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import cclz  # noqa: E402  (the source tree's package first)
import cclz.torch  # noqa: E402
import cclz.torch.lowrank  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
# Spec per method: the compressed ones use error feedback (classic unless named).
METHODS = {
    "gloo": None, "exact": "none", "fp16": "cast:type=fp16", "int8": "int:bits=8",
    "int4": "int:bits=4,ef=classic", "topk": "topk:ratio=0.01", "dgc": "dgc:ratio=0.001",
    # DGC's warm-up: the ratio goes from 25% to 0.1% in 4 stages over the first epoch (234
    # steps of 64 per rank on 4 ranks).
    "dgc-warmup": "dgc:ratio=0.001,warmup_steps=234",
    "powersgd": "powersgd:rank=4", "sign": "sign:scale=l1",
    "topk-ef21": "topk:ratio=0.01,ef=ef21", "topk-ef21w": "topk:ratio=0.01,ef=ef21w",
    "pufferfish": "none",
    # The bucket as one vector (the flat baseline of per-tensor selection), and one call per
    # bucket told its tensors: the hook's per= (PER below); the others go per tensor.
    "topk-flat": "topk:ratio=0.01", "dgc-flat": "dgc:ratio=0.001",
    "topk-layout": "topk:ratio=0.01", "dgc-layout": "dgc:ratio=0.001",
    # DGC per layer as its reference runs it: the biases (no matrix shape) sent whole, with
    # momentum SGD's velocity.
    "dgc-layout-dense1d": "dgc:ratio=0.001,dense_1d=1",
    # PowerSGD on each bucket's own matrices, every P in one allreduce and every Q in another.
    "powersgd-layout": "powersgd:rank=4",
}
PER = {"topk-flat": "bucket", "dgc-flat": "bucket", "topk-layout": "layout",
       "dgc-layout": "layout", "dgc-layout-dense1d": "layout", "powersgd-layout": "layout"}


def load(kind: str):
    with gzip.open(f"{DATA}/{kind}-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(f"{DATA}/{kind}-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.tensor(x, dtype=torch.float32) / 255.0, torch.tensor(y, dtype=torch.long)


def wide_mlp() -> nn.Module:
    """784-2048-2048-10, 5.8M parameters: a model whose gradient exchange outweighs its
    compute (perf/time_to_accuracy.py, examples/train_mpi.py)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 2048), nn.ReLU(), nn.Linear(2048, 2048),
                         nn.ReLU(), nn.Linear(2048, 10))


class StepData:
    """The step-driven runs' data: this rank's share of the shuffled training images (the
    same order on every run), batch by batch, and its quarter of the first `test` test
    images; correct() counts this rank's right answers."""

    def __init__(self, rank: int, size: int, batch: int, test: int):
        self.xtr, self.ytr = load("train")
        xte, yte = load("t10k")
        self.ntest = min(test, len(yte))
        mine = slice(rank * self.ntest // size, (rank + 1) * self.ntest // size)
        self.xte, self.yte = xte[mine], yte[mine]
        self.order = torch.randperm(len(self.ytr),
                                    generator=torch.Generator().manual_seed(1))[rank::size]
        self.batch = batch

    def step(self, step: int):
        """Images and labels of step (from 1), wrapping around the share."""
        lo = (step - 1) * self.batch % (len(self.order) - self.batch)
        idx = self.order[lo:lo + self.batch]
        return self.xtr[idx], self.ytr[idx]

    def correct(self, model: nn.Module) -> int:
        with torch.no_grad():
            return int((model(self.xte).argmax(1) == self.yte).sum())


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def wrap(model: nn.Module, spec, comm: "cclz.Communicator", args, per: str = "tensor"):
    """DDP over model with cclz's hook for spec (None: Gloo's allreduce), and its optimizer."""
    ddp = nn.parallel.DistributedDataParallel(model)
    state = None
    if spec is not None:
        if spec.startswith("powersgd") and per == "tensor":
            base = spec

            def powersgd(p: torch.Tensor) -> str:
                """Each weight as its (out x in*kh*kw) matrix; vectors exact."""
                return f"{base},rows={p.shape[0]}" if p.dim() >= 2 else "none"
            spec = powersgd
        state = cclz.torch.CompressionState(spec, comm=comm, min_bytes=args.min_bytes,
                                            model=model, per=per)
        ddp.register_comm_hook(state, cclz.torch.allreduce_hook)
    # DGC keeps momentum (corrected) inside its compressors: cclz.torch.sgd gives the
    # optimizer none then.
    return ddp, state, cclz.torch.sgd(ddp.parameters(), state, lr=args.lr, momentum=0.9)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", default="int8", choices=sorted(METHODS))
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64, help="per rank")
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--hetero", action="store_true", help="each rank sees a few classes only")
    ap.add_argument("--min-bytes", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    ap.add_argument("--seed", type=int, default=0,
                    help="the initial weights' seed (the data order's is seed + 1)")
    ap.add_argument("--warmup-epochs", type=int, default=1,
                    help="pufferfish: full-rank epochs before the factorization")
    ap.add_argument("--rank-ratio", type=float, default=0.25,
                    help="pufferfish: each factorized layer's rank, as a fraction of its "
                         "smaller dimension")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    comm = cclz.Communicator.from_env()
    rank, size = comm.rank, comm.size
    store = os.environ.get("CCLZ_ROOT", os.environ.get("MASTER_PORT", "x")).replace(":", "_")
    dist.init_process_group("gloo", init_method=f"file:///tmp/fmnist_{store}_{args.method}",
                            rank=rank, world_size=size)
    torch.manual_seed(args.seed)
    model = Net()
    ddp, state, opt = wrap(model, METHODS[args.method], comm, args,
                           PER.get(args.method, "tensor"))

    xtr, ytr = load("train")
    xte, yte = load("t10k")
    gen = torch.Generator().manual_seed(args.seed + 1)
    grad_bytes = sum(p.numel() * 4 for p in model.parameters())
    sent = 0.0
    for epoch in range(args.epochs):
        t0 = time.time()
        if args.method == "pufferfish" and epoch == args.warmup_epochs:
            # Factorize from the warmed-up weights (the same on every rank); the
            # parameters are new, so DDP, the hook and the optimizer are made again.
            state.close()
            model = cclz.torch.lowrank.factorize(model, rank_ratio=args.rank_ratio)
            ddp, state, opt = wrap(model, METHODS[args.method], comm, args)
        order = torch.randperm(len(ytr), generator=gen)
        if args.hetero:
            mine = order[(ytr[order] % size) == rank]
            steps = min(int(((ytr % size) == r).sum()) for r in range(size)) // args.batch
        else:
            mine = order[rank::size]
            steps = len(mine) // args.batch
        ddp.train()
        for s in range(steps):
            idx = mine[s * args.batch:(s + 1) * args.batch]
            opt.zero_grad()
            F.cross_entropy(ddp(xtr[idx]), ytr[idx]).backward()
            if all(torch.isfinite(p.grad).all() for p in ddp.parameters()):
                opt.step()
        if state is None:
            sent += steps * grad_bytes * 2.0 * (size - 1) / size
        else:
            sent = float(comm.stats()["bytes_sent"])
        ddp.eval()
        with torch.no_grad():
            acc = float((model(xte).argmax(1) == yte).float().mean())
        if rank == 0:
            print(json.dumps({"method": args.method, "hetero": args.hetero, "epoch": epoch + 1,
                              "test_acc": round(acc, 4), "bytes_sent": int(sent),
                              "params": cclz.torch.lowrank.parameter_count(model),
                              "seconds": round(time.time() - t0, 1)}), flush=True)
    dist.destroy_process_group()
    if state is not None:
        state.close()
    comm.destroy()


if __name__ == "__main__":
    main()
