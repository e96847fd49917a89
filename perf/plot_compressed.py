#!/usr/bin/python3
"""plot_compressed.py: perf/results/compressed/summary.tsv (and sweep.tsv) from
perf/compressed_bench.sh -> perf/compressed.png: time per 100 MB allreduce by method, link
rate and host count (log scale), and auto against the exact ring across sizes.
Run with Debian's python3 (matplotlib): /usr/bin/python3 perf/plot_compressed.py"""
import csv
import os
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

here = os.path.dirname(os.path.abspath(__file__))
res = os.path.join(here, "results", "compressed")
rows = list(csv.DictReader(open(os.path.join(res, "summary.tsv")), delimiter="\t"))
methods = []
for r in rows:
    if r["method"] not in methods:
        methods.append(r["method"])
groups = []
for r in rows:
    g = (int(r["hosts"]), r["rate"])
    if g not in groups:
        groups.append(g)

sweep_path = os.path.join(res, "sweep.tsv")
has_sweep = os.path.exists(sweep_path)
fig, axes = plt.subplots(1, 2 if has_sweep else 1, figsize=(14 if has_sweep else 8, 6))
ax = axes[0] if has_sweep else axes
width = 0.8 / len(methods)
for k, m in enumerate(methods):
    xs, ys = [], []
    for i, g in enumerate(groups):
        t = [float(r["time_us"]) for r in rows
             if (int(r["hosts"]), r["rate"]) == g and r["method"] == m and r["time_us"]]
        if t:
            xs.append(i + (k - (len(methods) - 1) / 2) * width)
            ys.append(t[0] / 1e3)
    ax.bar(xs, ys, width, label=m, color=plt.cm.tab20.colors[(2 * k) % 20 + (2 * k) // 20])
ax.set_xticks(range(len(groups)))
ax.set_xticklabels(["%d hosts\n%s" % g for g in groups])
ax.set_yscale("log")
ax.set_ylabel("ms per allreduce of 100 MB float32")
ax.set_title("Compressed allreduce on emulated hosts (tc-limited links)")
ax.axhline(30, color="grey", linestyle=":", linewidth=1)
ax.text(-0.45, 32, "30 ms: the dgc and topk target", fontsize=7, color="grey")
ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.12))

if has_sweep:
    sw = list(csv.DictReader(open(sweep_path), delimiter="\t"))
    ax2 = axes[1]
    for rate in sorted(set(r["rate"] for r in sw)):
        exact = {int(r["bytes"]): float(r["time_us"]) for r in sw if r["rate"] == rate and r["method"] == "exact ring"}
        auto = {int(r["bytes"]): float(r["time_us"]) for r in sw if r["rate"] == rate and r["method"] == "auto"}
        sizes = sorted(set(exact) & set(auto))
        ax2.plot(sizes, [auto[s] / exact[s] for s in sizes], marker="o", label="auto / exact ring, %s" % rate)
    ax2.axhline(1.05, color="red", linestyle=":", linewidth=1, label="+5%")
    ax2.axhline(1.0, color="grey", linewidth=0.5)
    ax2.set_xscale("log", base=2)
    ax2.set_xlabel("bytes")
    ax2.set_ylabel("time ratio (lower is better)")
    ax2.set_title("auto against the exact ring, 4 hosts")
    ax2.legend(fontsize=8)
fig.tight_layout()
out = os.path.join(here, "compressed.png")
fig.savefig(out, dpi=110)
print("wrote", out, file=sys.stderr)
