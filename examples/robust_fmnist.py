#!/usr/bin/python3
"""robust_fmnist.py: collaborative training on Fashion-MNIST (Debian's dataset-fashion-mnist)
with f Byzantine workers among n, MoNNA (cclz.torch.robust) against the plain average.

    cclz_run -np 5 /usr/bin/python3 examples/robust_fmnist.py --f 1 --attack alie --agg monna
    cclz_run -np 4 /usr/bin/python3 examples/robust_fmnist.py --agg average   # honest only

The last f ranks are Byzantine; the others are honest workers, each with a heterogeneous shard
(every class split among them by Dirichlet(alpha) proportions, the same for any n with the
same number of honest workers). Each step an honest worker updates its momentum and takes a
local step (MoNNA's local_step), then the workers mix their parameters: --agg monna with
MoNNA's mix (ccl_allreduce_robust: NNA, or --rule), --agg average with the exact average (decentralized
SGD). The Byzantine workers are omniscient: an exact allgather hands them every honest
worker's parameters before and after its local step (that exchange is the experiment's, not
the method's), from which they send:
  signflip  the honest update reversed and scaled: mean_before - 10 (mean_after - mean_before)
  noise     the honest mean plus Gaussian noise of sd 1 per coordinate
  alie      "a little is enough": mean - z sd per coordinate, z from n and f (Baruch et al.)
  ipm       inner-product manipulation: mean_before - eps (mean_after - mean_before), eps 0.1
  nan       a vector of NaN
Rank 0 (honest) prints one JSON line: its test accuracy every --eval-every steps and at the
end."""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import cclz  # noqa: E402  (the source tree's package first)
import cclz.torch.robust  # noqa: E402
from train_fmnist import load  # noqa: E402

ATTACKS = ("none", "signflip", "noise", "alie", "ipm", "nan")


def shards(labels: torch.Tensor, honest: int, alpha: float, seed: int = 1):
    """Each honest worker's training indices: every class split among the workers in
    Dirichlet(alpha) proportions."""
    rng = np.random.default_rng(seed)
    out = [[] for _ in range(honest)]
    y = labels.numpy()
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(y == c))
        cuts = (np.cumsum(rng.dirichlet([alpha] * honest)) * len(idx)).astype(int)[:-1]
        for w, part in enumerate(np.split(idx, cuts)):
            out[w].extend(part.tolist())
    return [torch.tensor(rng.permutation(o)) for o in out]


def alie_z(n: int, f: int) -> float:
    """ALIE's z: the largest deviation that still leaves the attackers among the majority."""
    s = n // 2 + 1 - f
    return statistics.NormalDist().inv_cdf((n - s) / n)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--f", type=int, default=1, help="Byzantine workers: the last f ranks")
    ap.add_argument("--attack", default="none", choices=ATTACKS)
    ap.add_argument("--agg", default="monna", choices=("monna", "average"))
    ap.add_argument("--rule", default="nna", choices=cclz.RULES)
    ap.add_argument("--pre", default="", help="pre-steps, e.g. nnm or arc,nnm")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--alpha", type=float, default=1.0, help="Dirichlet heterogeneity")
    ap.add_argument("--eval-every", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(1)

    comm = cclz.Communicator.from_env()
    rank, n = comm.rank, comm.size
    f = args.f
    honest = n - f
    byzantine = rank >= honest
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = cclz.torch.robust.MoNNA(model.parameters(), lr=args.lr, momentum=args.momentum,
                                  f=f, comm=comm, rule=args.rule,
                                  pre=[p for p in args.pre.split(",") if p])
    flat = opt.flat_parameters()
    d = flat.numel()
    xtr, ytr = load("train")
    xte, yte = load("t10k")
    mine = shards(ytr, honest, args.alpha)[rank] if not byzantine else None
    gen = torch.Generator().manual_seed(100 + rank)
    seen = torch.empty(n * 2 * d)
    noise = torch.Generator().manual_seed(7 + rank)
    t0 = time.time()
    attacked = args.attack != "none"
    for step in range(1, args.steps + 1):
        before = flat.clone() if attacked else None  # what the attackers are shown
        if not byzantine:
            idx = mine[torch.randint(0, len(mine), (args.batch,), generator=gen)]
            opt.zero_grad()
            F.cross_entropy(model(xtr[idx]), ytr[idx]).backward()
            opt.local_step()
        send = flat
        if attacked:
            comm.allgather(torch.cat([before, flat]), seen)
            rows = seen.view(n, 2, d)[:honest]
            mb, ma = rows[:, 0].mean(0), rows[:, 1].mean(0)
            if byzantine:
                if args.attack == "signflip":
                    send = mb - 10.0 * (ma - mb)
                elif args.attack == "noise":
                    send = ma + torch.randn(d, generator=noise)
                elif args.attack == "alie":
                    send = ma - alie_z(n, f) * rows[:, 1].std(0, unbiased=False)
                elif args.attack == "ipm":
                    send = mb - 0.1 * (ma - mb)
                else:
                    send = torch.full((d,), float("nan"))
                send = send.contiguous()
        if args.agg == "average":
            comm.allreduce(send, op="avg", out=flat)
        else:
            try:
                opt.mix(send)
            except cclz.NonFiniteGradient:
                if not byzantine:
                    raise
        if rank == 0 and (step % args.eval_every == 0 or step == args.steps):
            with torch.no_grad():
                acc = float((model(xte).argmax(1) == yte).float().mean())
            print(json.dumps({"agg": args.agg, "rule": args.rule, "pre": args.pre,
                              "attack": args.attack, "n": n, "f": args.f, "step": step,
                              "test_acc": round(acc, 4),
                              "seconds": round(time.time() - t0, 1)}), flush=True)
    comm.destroy()


if __name__ == "__main__":
    main()
