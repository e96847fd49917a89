#!/usr/bin/python3
"""plot_accuracy.py: perf/results/training/fmnist.jsonl (perf/accuracy.sh) -> fmnist.png
(test accuracy by epoch, and against cumulative gradient bytes sent, per method) and
fmnist.md (the final epoch of each method beside the Gloo reference).
Run with Debian's python3 (matplotlib): /usr/bin/python3 perf/plot_accuracy.py"""
import json
import os

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

here = os.path.dirname(os.path.abspath(__file__))
res = os.path.join(here, "results", "training")
rows = [json.loads(line) for line in open(os.path.join(res, "fmnist.jsonl")) if line.strip()]
runs = {}
for r in rows:
    runs.setdefault(r["method"], []).append(r)
fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 5))
for m, pts in runs.items():
    a1.plot([p["epoch"] for p in pts], [100 * p["test_acc"] for p in pts], "o-", label=m)
    a2.plot([p["bytes_sent"] / 1e6 for p in pts], [100 * p["test_acc"] for p in pts], "o-",
            label=m)
a1.set_xlabel("epoch")
a1.set_ylabel("test accuracy (%)")
a2.set_xscale("log")
a2.set_xlabel("cumulative gradient MB sent by rank 0 (log)")
a2.set_ylabel("test accuracy (%)")
for a in (a1, a2):
    a.grid(alpha=0.3)
    a.legend(fontsize=8)
fig.suptitle("Fashion-MNIST, small CNN, 4 ranks, same seed")
fig.tight_layout()
fig.savefig(os.path.join(res, "fmnist.png"), dpi=100)

ref = runs.get("gloo", [{}])[-1]
with open(os.path.join(res, "fmnist.md"), "w") as out:
    out.write("| method | epochs | test accuracy | vs Gloo (points) | MB sent by rank 0 | "
              "traffic vs Gloo |\n|---|---:|---:|---:|---:|---:|\n")
    for m, pts in runs.items():
        last = pts[-1]
        d = 100 * (last["test_acc"] - ref.get("test_acc", last["test_acc"]))
        ratio = ref.get("bytes_sent", 0) / max(last["bytes_sent"], 1)
        out.write(f"| {m} | {last['epoch']} | {100 * last['test_acc']:.2f}% | {d:+.2f} | "
                  f"{last['bytes_sent'] / 1e6:.1f} | 1/{ratio:.1f} |\n")
