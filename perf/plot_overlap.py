#!/usr/bin/python3
"""plot_overlap.py: perf/results/nonblocking/overlap.tsv (from perf/overlap.sh) ->
perf/results/nonblocking/overlap.png: time per iteration of issue + compute + wait against the
compute time, for each method, beside the ideal max(compute, communication).
Run with Debian's python3 (matplotlib): /usr/bin/python3 perf/plot_overlap.py"""
import csv
import os

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

here = os.path.dirname(os.path.abspath(__file__))
res = os.path.join(here, "results", "nonblocking")
rows = list(csv.DictReader(open(os.path.join(res, "overlap.tsv")), delimiter="\t"))
labels = {"cclz-exact": "cclz ccl_iallreduce (exact)",
          "cclz-int8": "cclz ccl_iallreduce_compressed (int:bits=8)",
          "mpi": "Open MPI MPI_Iallreduce"}
fig, ax = plt.subplots(figsize=(8, 5.5))
for i, method in enumerate(labels):
    pts = [r for r in rows if r["method"] == method]
    if not pts:
        continue
    c = [float(r["compute_ms"]) for r in pts]
    color = "C%d" % i
    ax.plot(c, [float(r["total_ms"]) for r in pts], "o-", color=color, label=labels[method])
    ax.plot(c, [float(r["max_ms"]) for r in pts], ":", color=color,
            label="  ideal: max(compute, its communication)")
ax.set_xlabel("compute per iteration (ms)")
ax.set_ylabel("time per iteration: issue, compute, wait (ms)")
ax.set_title("100 MB float32 allreduce, 2 hosts at 1 Gbit/s, one core per rank")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(os.path.join(res, "overlap.png"), dpi=110)
