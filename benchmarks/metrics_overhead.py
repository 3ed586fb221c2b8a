"""What Prometheus metrics cost the worker: the aqueue drain scenario, with metrics off and
on, interleaved (off, on, off, on...) so that a noisy machine weighs on both alike.

    .venv/bin/python -m benchmarks.metrics_overhead [--pairs 7] [--n 20000]

The metrics run is the same worker command with ``--metrics-port 0`` (what
``BENCH_AQUEUE_METRICS=1`` adds in ``peers.py``). Prints the medians and their ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
from datetime import UTC, datetime
from typing import Any

from benchmarks import scenarios
from benchmarks.peers import PEERS

METRICS_ENV = "BENCH_AQUEUE_METRICS"
FIGURES = ("jobs_per_s", "steady_jobs_per_s", "worker_cpu_s_per_1k")


def one_run(ctx: scenarios.Ctx, n: int, metrics: bool) -> dict[str, Any]:
    os.environ[METRICS_ENV] = "1" if metrics else "0"
    try:
        return scenarios.drain(ctx, PEERS["aqueue"], n, "noop", 1)
    finally:
        os.environ.pop(METRICS_ENV, None)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.metrics_overhead",
                                 description=__doc__)
    ap.add_argument("--pairs", type=int, default=7, help="off/on pairs (default 7)")
    ap.add_argument("--n", type=int, default=scenarios.FULL.drain, help="jobs per drain")
    args = ap.parse_args(argv)
    ctx = scenarios.Ctx("metrics-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"))
    runs: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
    for i in range(args.pairs):
        for metrics in (False, True) if i % 2 == 0 else (True, False):
            result = one_run(ctx, args.n, metrics)
            runs[metrics].append(result)
            print(f"pair {i + 1}/{args.pairs} metrics {'on ' if metrics else 'off'}: "
                  + "  ".join(f"{k} {result[k]:,.3f}" for k in FIGURES), flush=True)
    print(f"\nmedians of {args.pairs} interleaved runs each, {args.n:,} no-op jobs per drain:")
    for figure in FIGURES:
        off = statistics.median(r[figure] for r in runs[False])
        on = statistics.median(r[figure] for r in runs[True])
        print(f"  {figure:22} off {off:12,.3f}   on {on:12,.3f}   on/off {on / off:6.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
