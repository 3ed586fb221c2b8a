"""aqueue against an earlier aqueue: enqueue one at a time, awaited, both in the same run.

`python -m benchmarks.versions --ref 699d4eb --runs 7` checks the commit out in a git
worktree (under .bench-venvs/src-<ref>), then alternates runs of the two source trees with
the project's interpreter (the same redis-py and hiredis), each on a fresh redis-server,
and reports the medians. It uses only what both trees have: `AsyncQueue(name, url=...)`
and `await queue.enqueue(fn, *args, **kwargs)`. With `--instructions` it counts the
instructions per enqueue under valgrind instead (the same on a busy machine as on a quiet
one). Results: benchmarks/results/versions.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import RAW_DIR, RESULTS_DIR, ROOT, VENVS_DIR, RedisServer

SHAPES = {"noop": "noop()", "args": "add(1, b=2)"}

TASKS = '''
async def noop() -> None:
    return None


async def add(a: int, b: int = 0) -> int:
    return a + b
'''

DRIVER = '''
import asyncio, json, os, sys, time
import aqueue
from aqueue import AsyncQueue
from vtasks import add, noop

CALLS = {"noop": lambda q: q.enqueue(noop), "args": lambda q: q.enqueue(add, 1, b=2)}


async def main(url, n, shape):
    queue = AsyncQueue("versions", url=url)
    call = CALLS[shape]
    for _ in range(200):
        await call(queue)
    u0, c0, t0 = os.times().user, time.process_time(), time.perf_counter()
    for _ in range(n):
        await call(queue)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    user = os.times().user - u0
    await queue.close()
    print(json.dumps({"jobs_per_s": n / elapsed, "cpu_us_per_job": cpu / n * 1e6,
                      "user_cpu_us_per_job": user / n * 1e6, "source": aqueue.__file__}))


asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
'''


def worktree(ref: str) -> Path:
    path = VENVS_DIR / f"src-{ref}"
    if not (path / "aqueue").exists():
        VENVS_DIR.mkdir(exist_ok=True)
        subprocess.run(["git", "worktree", "add", "--detach", "--force", str(path), ref],
                       cwd=ROOT, check=True, capture_output=True)
    return path


def one_run(tree: Path, scripts: Path, n: int, shape: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(tree))  # ahead of the editable install's finder
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with RedisServer(RAW_DIR) as redis:
        done = subprocess.run([sys.executable, str(scripts / "driver.py"), redis.url, str(n),
                               shape], env=env, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if not result["source"].startswith(str(tree)):
        raise RuntimeError(f"ran {result['source']}, not the tree {tree}")
    return result


def instructions(tree: Path, scripts: Path, n: int, shape: str) -> int:
    """User-space instructions executed by a driver run (valgrind's callgrind): unlike
    time, the same on a quiet machine and a busy one."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    with RedisServer(RAW_DIR) as redis:
        done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                               sys.executable, str(scripts / "driver.py"), redis.url, str(n),
                               shape], env=env, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from valgrind: {done.stderr[-500:]}")
    return int(found[1])


def count_instructions(trees: dict[str, Path], scripts: Path) -> dict[str, dict[str, float]]:
    """Instructions per enqueue: (a run of 1,200 enqueues - a run of 200) / 1,000, which
    leaves out start-up and the warm-up."""
    out: dict[str, dict[str, float]] = {}
    for shape in SHAPES:
        out[shape] = {}
        for name, tree in trees.items():
            low, high = (instructions(tree, scripts, n, shape) for n in (200, 1200))
            out[shape][name] = (high - low) / 1000
            print(f"  {shape:5} {name:8} {out[shape][name]:10,.0f} instructions per enqueue",
                  flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.versions", description=__doc__)
    ap.add_argument("--ref", default="699d4eb", help="the earlier commit")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--n", type=int, default=5000, help="enqueues per run")
    ap.add_argument("--output", default=str(RESULTS_DIR / "versions.json"))
    ap.add_argument("--instructions", action="store_true",
                    help="count instructions per enqueue with valgrind instead of timing")
    args = ap.parse_args(argv)
    RAW_DIR.mkdir(parents=True, exist_ok=True)
    trees = {args.ref: worktree(args.ref), "now": ROOT}
    if args.instructions:
        with tempfile.TemporaryDirectory() as tmp:
            scripts = Path(tmp)
            (scripts / "vtasks.py").write_text(TASKS)
            (scripts / "driver.py").write_text(DRIVER)
            counts = count_instructions(trees, scripts)
        path = Path(args.output)
        saved = json.loads(path.read_text()) if path.exists() else {}
        saved["instructions"] = {"ref": args.ref, "per_enqueue": counts}
        path.write_text(json.dumps(saved, indent=1))
        for shape, per_tree in counts.items():
            print(f"{SHAPES[shape]}: {per_tree['now'] / per_tree[args.ref] - 1:+.1%}")
        return 0
    results: dict[str, dict[str, list[dict[str, Any]]]] = {
        shape: {name: [] for name in trees} for shape in SHAPES}
    with tempfile.TemporaryDirectory() as tmp:
        scripts = Path(tmp)
        (scripts / "vtasks.py").write_text(TASKS)
        (scripts / "driver.py").write_text(DRIVER)
        for i in range(args.runs):
            for shape in SHAPES:
                order = list(trees.items()) if i % 2 == 0 else list(trees.items())[::-1]
                for name, tree in order:
                    r = one_run(tree, scripts, args.n, shape)
                    results[shape][name].append(r)
                    print(f"  run {i + 1}/{args.runs} {shape:5} {name:8} "
                          f"{r['jobs_per_s']:8,.0f} jobs/s {r['cpu_us_per_job']:6.1f} us CPU/job "
                          f"({r['user_cpu_us_per_job']:5.1f} user)",
                          flush=True)
    summary = {}
    print(f"\n| job | {args.ref} jobs/s | now jobs/s | change | {args.ref} CPU us/job "
          "(user) | now CPU us/job (user) |\n|---|---|---|---|---|---|")
    for shape, by_tree in results.items():
        med = {name: {k: statistics.median(r[k] for r in runs)
                      for k in ("jobs_per_s", "cpu_us_per_job", "user_cpu_us_per_job")}
               for name, runs in by_tree.items()}
        old, new = med[args.ref], med["now"]
        change = new["jobs_per_s"] / old["jobs_per_s"] - 1
        summary[shape] = {"medians": med, "change": change}
        print(f"| `{SHAPES[shape]}` | {old['jobs_per_s']:,.0f} | {new['jobs_per_s']:,.0f} "
              f"| {change:+.0%} | {old['cpu_us_per_job']:.0f} ({old['user_cpu_us_per_job']:.0f}) "
              f"| {new['cpu_us_per_job']:.0f} ({new['user_cpu_us_per_job']:.0f}) |")
    path = Path(args.output)
    saved = json.loads(path.read_text()) if path.exists() else {}
    saved.update({"ref": args.ref, "runs": args.runs, "n": args.n, "summary": summary,
                  "results": results})
    path.write_text(json.dumps(saved, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
