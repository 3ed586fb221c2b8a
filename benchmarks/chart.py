"""Headline chart from the results JSON. Runs in .bench-venvs/tools (matplotlib).

Usage: .bench-venvs/tools/bin/python benchmarks/chart.py results.json chart.png
"""

from __future__ import annotations

import json
import sys
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

PANELS = [
    ("drain", "jobs_per_s", "Drain no-op jobs, 1 process (jobs/s)", "{:,.0f}"),
    ("sleep", "pct_of_4000", "sleep(0.05) jobs, c=200 (% of 4,000/s ideal)", "{:.1f}%"),
    ("enqueue", "jobs_per_s", "Enqueue one at a time, awaited (jobs/s)", "{:,.0f}"),
]


def value(data: dict[str, Any], peer: str, key: str, metric: str) -> float:
    entry = data["results"].get(peer, {}).get(key)
    if not entry or not entry["median"]:
        return 0.0
    return float(entry["median"].get(metric) or 0.0)


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    with open(src) as f:
        data = json.load(f)
    peers = list(data["results"])
    labels = [data["peers"][p]["label"] for p in peers]
    fig, axes = plt.subplots(1, len(PANELS), figsize=(5.2 * len(PANELS), 0.45 * len(peers) + 1.8))
    for ax, (key, metric, title, fmt) in zip(axes, PANELS, strict=True):
        vals = [value(data, p, key, metric) for p in peers]
        colors = ["#d1495b" if p == "aqueue" else "#8da0b6" for p in peers]
        bars = ax.barh(labels, vals, color=colors)
        ax.invert_yaxis()
        ax.set_title(title, fontsize=10)
        ax.bar_label(bars, labels=[fmt.format(v) for v in vals], fontsize=8, padding=2)
        ax.set_xlim(0, max([*vals, 1]) * 1.25)
        ax.tick_params(labelsize=8)
    m = data["meta"]["machine"]
    fig.suptitle(
        f"{m['nproc']} CPUs, Python {m['python']}, Redis {m['redis']}; "
        f"median of {data['meta']['runs']} run(s)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    main()
