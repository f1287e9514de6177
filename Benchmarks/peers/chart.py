#!/usr/bin/env python3
"""Draws Docs/query-latency.png: p50 query latency against store size for each system.

Usage: python3 Benchmarks/peers/chart.py OUT.png PEERS.json [PEERS.json ...] [--sightline ROWS:QUERYBENCH.json ...]
PEERS.json files come from peers.py (one per size); --sightline adds Sightline-only sizes
(`sightline-bench query-bench --json`), e.g. 1,000,000,000 rows.
"""
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

out, rest = sys.argv[1], sys.argv[2:]
extra = []
if "--sightline" in rest:
    i = rest.index("--sightline")
    extra = rest[i + 1:]
    rest = rest[:i]
series = {}  # (system, type) -> [(rows, p50)]
for path in rest:
    data = json.load(open(path))
    for system, r in data["results"].items():
        for t, (p50, _p99) in r["latency"].items():
            series.setdefault((system, t), []).append((data["rows"], p50))
for item in extra:
    rows, path = item.split(":", 1)
    for r in json.load(open(path)):
        series.setdefault(("Sightline", r["type"]), []).append((int(rows), r["p50Ms"]))
types = ["history, all time", "area 1 km², 24 h", "area 1 km², 30 days", "count 1 km², 24 h"]
fig, axes = plt.subplots(1, len(types), figsize=(4.2 * len(types), 4), sharey=False)
colors = {"Sightline": "tab:green", "DuckDB": "tab:orange", "chDB": "tab:blue"}
for ax, t in zip(axes, types):
    for system in ["Sightline", "DuckDB", "chDB"]:
        pts = sorted(series.get((system, t), []))
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=system, color=colors[system])
    ax.set_xscale("log"); ax.set_yscale("log")
    ax.set_title(t); ax.set_xlabel("sightings in the store"); ax.set_ylabel("p50 latency, ms")
    ax.grid(True, which="both", alpha=0.3)
axes[0].legend()
fig.suptitle("Query latency against store size (warm cache, 2-core VM)")
fig.tight_layout()
fig.savefig(out, dpi=110)
print("wrote", out)
