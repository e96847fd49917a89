#!/usr/bin/python3
"""plot_robust.py: perf/results/robust/NAME.jsonl (perf/robust_training.sh) as a markdown
table of final test accuracy per attack, MoNNA against the plain average and the honest workers
alone, and a bar chart, NAME.png.

    /usr/bin/python3 perf/plot_robust.py [NAME]      (default training)"""
import json
import os
import sys
from collections import defaultdict

here = os.path.dirname(os.path.abspath(__file__))
res = os.path.join(here, "results", "robust")
ATTACKS = ("none", "signflip", "noise", "alie", "ipm", "nan")


def main() -> None:
    name = sys.argv[1] if len(sys.argv) > 1 else "training"
    final = defaultdict(dict)  # (n, f) -> {(agg, pre, attack): acc at the last step}
    last = {}
    for line in open(os.path.join(res, f"{name}.jsonl")):
        r = json.loads(line)
        honest = r["agg"] == "average" and r["f"] == 0
        key = (r["n"], r["f"]) if not honest else None
        rule = r["rule"] if r["agg"] == "monna" else ""
        k = (("honest", "", "", "none") if honest
             else (r["agg"], rule, r.get("pre", ""), r["attack"]))
        if honest:  # n - f honest workers alone: file it under each config it serves
            for n, f in ((5, 1), (9, 2)):
                if n - f == r["n"]:
                    key = (n, f)
        if key is None:
            continue
        if r["step"] >= last.get((key, k), 0):
            last[(key, k)] = r["step"]
            final[key][k] = r["test_acc"]
    print("| n | f | attack | honest workers alone | MoNNA (NNA) | MoNNA - alone | plain average |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    for (n, f), t in sorted(final.items()):
        alone = t.get(("honest", "", "", "none"))
        for a in ATTACKS:
            mo, av = t.get(("monna", "nna", "", a)), t.get(("average", "", "", a))
            if mo is None and av is None:
                continue
            fmt = lambda v: f"{100 * v:.2f}%" if v is not None else "-"
            gap = f"{100 * (mo - alone):+.2f}" if mo is not None and alone is not None else "-"
            print(f"| {n} | {f} | {a} | {fmt(alone)} | {fmt(mo)} | {gap} | {fmt(av)} |")
        extra = sorted(k for k in t if k[0] == "monna" and k[1:3] != ("nna", ""))
        for k in extra:
            how = k[1] + (f" after {k[2]}" if k[2] else "")
            print(f"| {n} | {f} | {k[3]} (mixing by {how}) | {100 * alone:.2f}% | "
                  f"{100 * t[k]:.2f}% | {100 * (t[k] - alone):+.2f} | |")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, len(final), figsize=(6 * len(final), 4.5), squeeze=False)
    for ax, ((n, f), t) in zip(axes[0], sorted(final.items())):
        xs = range(len(ATTACKS))
        ax.bar([x - 0.2 for x in xs], [100 * t.get(("monna", "nna", "", a), 0) for a in ATTACKS],
               0.4, label="MoNNA (NNA)")
        ax.bar([x + 0.2 for x in xs], [100 * t.get(("average", "", "", a), 0) for a in ATTACKS],
               0.4, label="plain average")
        if ("honest", "", "", "none") in t:
            ax.axhline(100 * t[("honest", "", "", "none")], color="k", ls="--",
                       label=f"{n - f} honest workers alone")
        ax.set_xticks(list(xs))
        ax.set_xticklabels(ATTACKS)
        ax.set_ylim(0, 100)
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"Fashion-MNIST, n = {n}, f = {f} Byzantine")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(res, f"{name}.png"), dpi=100)


if __name__ == "__main__":
    main()
