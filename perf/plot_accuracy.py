#!/usr/bin/python3
"""plot_accuracy.py [NAME]: perf/results/training/NAME.jsonl (perf/accuracy.sh; NAME
defaults to fmnist) -> NAME.png (test accuracy by epoch, and against cumulative gradient
bytes sent, per method) and NAME.md (the final epoch of each method beside the Gloo
reference). Run with Debian's python3 (matplotlib): /usr/bin/python3 perf/plot_accuracy.py"""
import json
import os
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

here = os.path.dirname(os.path.abspath(__file__))
res = os.path.join(here, "results", "training")
name = sys.argv[1] if len(sys.argv) > 1 else "fmnist"  # NAME.jsonl -> NAME.png, NAME.md
rows = [json.loads(line) for line in open(os.path.join(res, name + ".jsonl")) if line.strip()]
runs = {}
for r in rows:  # heterogeneous-data runs apart: their reference is Gloo on the same split
    runs.setdefault((r["method"], bool(r.get("hetero"))), []).append(r)


def label(key):
    return key[0] + (" (hetero)" if key[1] else "")


fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 5))
colors = plt.get_cmap("tab20").colors  # more methods than the default cycle has colors
for i, (key, pts) in enumerate(runs.items()):
    style = "s--" if key[1] else "o-"
    a1.plot([p["epoch"] for p in pts], [100 * p["test_acc"] for p in pts], style,
            color=colors[i % len(colors)], label=label(key))
    a2.plot([p["bytes_sent"] / 1e6 for p in pts], [100 * p["test_acc"] for p in pts], style,
            color=colors[i % len(colors)], label=label(key))
a1.set_xlabel("epoch")
a1.set_ylabel("test accuracy (%)")
a2.set_xscale("log")
a2.set_xlabel("cumulative gradient MB sent by rank 0 (log)")
a2.set_ylabel("test accuracy (%)")
for a in (a1, a2):
    a.grid(alpha=0.3)
    a.legend(fontsize=7)
fig.suptitle("Fashion-MNIST, small CNN, 4 ranks, same seed (dashed: each rank sees 2-3 classes)")
fig.tight_layout()
fig.savefig(os.path.join(res, name + ".png"), dpi=100)

# Runs from before the count was recorded trained the full model, which is what every
# method's first epoch trains (pufferfish factorizes after its warm-up).
full = next((r["params"] for r in rows if r["epoch"] == 1 and "params" in r), "")
with open(os.path.join(res, name + ".md"), "w") as out:
    for hetero in (False, True):
        keys = [k for k in runs if k[1] == hetero]
        if not keys:
            continue
        ref = runs.get(("gloo", hetero), [{}])[-1]
        out.write(("\nHeterogeneous data (each rank trains on the classes c with c % 4 == rank):\n\n"
                   if hetero else "") +
                  "| method | epochs | test accuracy | vs Gloo (points) | MB sent by rank 0 | "
                  "traffic vs Gloo | parameters |\n|---|---:|---:|---:|---:|---:|---:|\n")
        for key in keys:
            last = runs[key][-1]
            d = 100 * (last["test_acc"] - ref.get("test_acc", last["test_acc"]))
            ratio = ref.get("bytes_sent", 0) / max(last["bytes_sent"], 1)
            params = last.get("params", full)
            out.write(f"| {key[0]} | {last['epoch']} | {100 * last['test_acc']:.2f}% | {d:+.2f} | "
                      f"{last['bytes_sent'] / 1e6:.1f} | 1/{ratio:.1f} | {params} |\n")
