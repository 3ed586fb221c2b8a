"""Redis CPU per job of aqueue's hot scripts, for two checkouts side by side:
``python -m benchmarks.script_cost BEFORE_DIR AFTER_DIR [--runs 7]``.

For what a change to the Lua costs when a wall-clock benchmark is too noisy (a shared
machine): Redis's own CPU time (``INFO cpu``) divided by the jobs, on a fresh redis-server
per measurement, the two checkouts interleaved. Measures one single-job enqueue script call,
and the drain path (claim 200 jobs + ack them, until 20,000 jobs are done).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import redis

from benchmarks.common import free_port

KEYS = [f"aq:{{m}}:{k}" for k in ("queued", "started", "scheduled", "failed", "stats",
                                  "marker", "wake", "job:")]
PAIRS: list[Any] = ["func", "a.b", "args", "[]", "kwargs", "{}", "timeout", 180, "result_ttl", 500,
         "failure_ttl", -1]


def source(tree: str, name: str) -> str:
    """``script_source(name)`` as the checkout at ``tree`` builds it."""
    return subprocess.check_output([sys.executable, "-c", (
        f"import sys; sys.path.insert(0, {tree!r}); "
        f"from aqueue.store.scripts import script_source; "
        f"sys.stdout.write(script_source({name!r}))")], text=True)


def with_server(measure: Callable[[redis.Redis], float]) -> float:
    port = free_port()
    process = subprocess.Popen(["redis-server", "--port", str(port), "--save", "",
                                "--dir", tempfile.mkdtemp()], stdout=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port)
        for _ in range(250):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.02)
        return measure(client)
    finally:
        process.terminate()
        process.wait()


def cpu(client: redis.Redis) -> float:
    info: dict[str, Any] = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def enqueue_cost(tree: str, n: int = 20_000) -> float:
    """Microseconds of Redis CPU per single-job enqueue call (pipelined by 500)."""
    script = source(tree, "enqueue")

    def measure(client: redis.Redis) -> float:
        sha = client.script_load(script)
        start = cpu(client)
        pipe = client.pipeline(transaction=False)
        for i in range(n):
            pipe.evalsha(sha, len(KEYS), *KEYS, 1, "m", f"id{i}", "0", "n", "", 0, 6, *PAIRS)
            if i % 500 == 499:
                pipe.execute()
        pipe.execute()
        return (cpu(client) - start) / n * 1e6

    return with_server(measure)


def drain_cost(tree: str, n: int = 20_000, batch: int = 200) -> float:
    """Microseconds of Redis CPU per job to claim and ack ``n`` queued jobs."""
    scripts = {name: source(tree, name) for name in ("enqueue", "claim", "ack")}

    def measure(client: redis.Redis) -> float:
        sha = {name: client.script_load(text) for name, text in scripts.items()}
        for first in range(0, n, 1000):
            argv: list[Any] = [1000, "m"]
            for i in range(first, first + 1000):
                argv += [f"id{i}", "0", "n", "", 0, 6, *PAIRS]
            client.evalsha(sha["enqueue"], len(KEYS), *KEYS, *argv)
        start = cpu(client)
        done = calls = 0
        while True:
            calls += 1
            _, rows = client.evalsha(sha["claim"], len(KEYS), *KEYS, batch, 30, f"w.{calls}")
            if not rows:
                break
            acks: list[Any] = []
            for q, job_id, token, _ in rows:
                acks += [q, job_id, token, "finished", 500, 1, "result", "null"]
            client.evalsha(sha["ack"], len(KEYS), *KEYS, *acks)
            done += len(rows)
        assert done == n, f"drained {done} of {n}"
        return (cpu(client) - start) / n * 1e6

    return with_server(measure)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.script_cost",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    for what, measure in (("enqueue, one job per call", enqueue_cost),
                          ("drain: claim 200 + ack", drain_cost)):
        runs: dict[str, list[float]] = {"before": [], "after": []}
        for _ in range(args.runs):
            for label in ("before", "after"):
                runs[label].append(measure(getattr(args, label)))
        b, a = statistics.median(runs["before"]), statistics.median(runs["after"])
        print(f"{what}: {b:.2f} -> {a:.2f} us of Redis CPU per job "
              f"({(a - b) / b * 100:+.1f} %, medians of {args.runs})", flush=True)


if __name__ == "__main__":
    main()
