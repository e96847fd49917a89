#!/usr/bin/python3
"""plot_time_to_accuracy.py: perf/results/training/time_to_accuracy.jsonl
(perf/time_to_accuracy.sh) -> time_to_accuracy.png (test accuracy against training seconds,
per method) and time_to_accuracy.md: seconds per step and against DDP over Gloo, the compute
share (the local method's time over Gloo's), final accuracy (the mean of the last three
evaluations: with 16 images per step the curve is noisy), and the training seconds until
the accuracy first reached Gloo's final accuracy minus 0.5 points.
Run with Debian's python3 (matplotlib)."""
import json
import os

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

res = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "training")
rows = [json.loads(line) for line in open(os.path.join(res, "time_to_accuracy.jsonl"))
        if line.strip()]
runs = {}
for r in rows:  # the last run of each method counts
    if r["step"] <= runs.get(r["method"], [{"step": 0}])[-1]["step"]:
        runs[r["method"]] = []
    runs.setdefault(r["method"], []).append(r)

fig, ax = plt.subplots(figsize=(8, 5))
for m, pts in runs.items():
    if m != "local":
        ax.plot([p["seconds"] for p in pts], [100 * p["test_acc"] for p in pts], "o-", label=m)
ax.set_xlabel("training seconds (evaluation excluded)")
ax.set_ylabel("test accuracy (%)")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
rate = rows[0].get("rate", "") if rows else ""
ax.set_title(f"Wide MLP on Fashion-MNIST, 4 emulated hosts at {rate}")
fig.tight_layout()
fig.savefig(os.path.join(res, "time_to_accuracy.png"), dpi=100)


def per_step(pts):
    return pts[-1]["seconds"] / pts[-1]["step"]


def final(pts):
    last = pts[-3:]
    return sum(p["test_acc"] for p in last) / len(last)


gloo = runs.get("gloo")
target = final(gloo) - 0.005 if gloo else None
with open(os.path.join(res, "time_to_accuracy.md"), "w") as out:
    if gloo and "local" in runs:
        out.write(f"Compute share of a Gloo step: {per_step(runs['local']) / per_step(gloo):.0%} "
                  f"(the step without any exchange, {per_step(runs['local']):.3f} s, over "
                  f"Gloo's {per_step(gloo):.3f} s).\n\n")
    out.write(f"Target: Gloo's final accuracy (mean of its last 3 evaluations) minus 0.5 points"
              f"{f' = {100 * target:.2f}%' if target else ''}.\n\n"
              "| method | s per step | vs Gloo | final accuracy | s to target | MB sent by rank 0 |\n"
              "|---|---:|---:|---:|---:|---:|\n")
    for m, pts in runs.items():
        if m == "local":
            continue
        hit = next((p["seconds"] for p in pts if target and p["test_acc"] >= target), None)
        ratio = f"{per_step(pts) / per_step(gloo):.2f}x" if gloo else ""
        out.write(f"| {m} | {per_step(pts):.3f} | {ratio} | {100 * final(pts):.2f}% | "
                  f"{f'{hit:.1f}' if hit is not None else 'not reached'} | "
                  f"{pts[-1]['bytes_sent'] / 1e6:.0f} |\n")
