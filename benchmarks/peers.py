"""The libraries under test: how each one is installed, how its worker is started.

Everything a peer needs on the producer side lives in benchmarks/drivers/<driver>.py and
its jobs in benchmarks/tasks/<driver>_tasks.py; both run with the peer's own interpreter.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks.common import ROOT, VENVS_DIR

QUEUE = "bench"  # queue name used by every library


@dataclass(frozen=True)
class Peer:
    name: str
    label: str
    venv: str | None  # None: the project venv (aqueue itself)
    requirements: tuple[str, ...]
    report_packages: tuple[str, ...]  # versions recorded in the results
    driver: str  # module under benchmarks.drivers
    worker: Callable[[Peer, str, int], list[str]]  # (peer, redis_url, concurrency) -> argv
    concurrency: int = 200
    has_bulk: bool = False
    # Slow peers get fewer jobs so a run stays within minutes (the N used is reported).
    drain_divisor: int = 1
    sleep_cap: int | None = None
    sync_producer: bool = False  # has a blocking (non-asyncio) enqueue: sync, threads
    async_waiters: bool = True  # can wait for results on an event loop: waiters
    # False for a second worker flavour of the same library: its producer is measured once
    producer_scenarios: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def bin(self) -> str:
        base = ROOT / ".venv" if self.venv is None else VENVS_DIR / self.venv
        return str(base / "bin")

    @property
    def python(self) -> str:
        return f"{self.bin}/python"

    def worker_argv(self, url: str) -> list[str]:
        return self.worker(self, url, self.concurrency)


def _aqueue(p: Peer, url: str, c: int) -> list[str]:
    # BENCH_AQUEUE_METRICS=1: the same worker with Prometheus metrics on (any free port),
    # to measure what they cost (docs/metrics.md).
    metrics = ["--metrics-port", "0"] if os.environ.get("BENCH_AQUEUE_METRICS") == "1" else []
    return [
        f"{p.bin}/aqueue",
        "worker",
        QUEUE,
        "--url",
        url,
        "--concurrency",
        str(c),
        "--import",
        "benchmarks.tasks.aqueue_tasks",
        *metrics,
    ]


def _rq(p: Peer, url: str, c: int) -> list[str]:
    return [f"{p.bin}/rq", "worker", QUEUE, "--url", url]


def _rq_simple(p: Peer, url: str, c: int) -> list[str]:
    return [*_rq(p, url, c), "--worker-class", "rq.worker.SimpleWorker"]


def _arq(p: Peer, url: str, c: int) -> list[str]:
    return [f"{p.bin}/arq", "benchmarks.tasks.arq_tasks.WorkerSettings"]


def _saq(p: Peer, url: str, c: int) -> list[str]:
    return [f"{p.bin}/saq", "benchmarks.tasks.saq_tasks.settings"]


def _streaq(p: Peer, url: str, c: int) -> list[str]:
    return [f"{p.bin}/streaq", "run", "benchmarks.tasks.streaq_tasks:worker"]


def _taskiq(p: Peer, url: str, c: int) -> list[str]:
    return [
        f"{p.bin}/taskiq",
        "worker",
        "benchmarks.tasks.taskiq_tasks:broker",
        "--workers",
        "1",
        "--max-async-tasks",
        str(c),
    ]


_RQ_REQS = ("rq==2.12.0", "hiredis")

PEERS: dict[str, Peer] = {
    p.name: p
    for p in (
        Peer(
            "aqueue",
            "aqueue",
            None,
            (),
            ("aqueue-redis", "redis", "hiredis", "uvloop"),
            "aqueue_driver",
            _aqueue,
            has_bulk=True,
            sync_producer=True,
        ),
        Peer(
            "rq",
            "RQ, forking Worker",
            "rq",
            _RQ_REQS,
            ("rq", "redis", "hiredis"),
            "rq_driver",
            _rq,
            concurrency=1,
            has_bulk=True,
            drain_divisor=10,
            sleep_cap=200,
            sync_producer=True,
            async_waiters=False,
            notes=("one job at a time per process (forks a child per job)",),
        ),
        Peer(
            "rq-simple",
            "RQ, SimpleWorker",
            "rq",
            _RQ_REQS,
            ("rq", "redis", "hiredis"),
            "rq_driver",
            _rq_simple,
            concurrency=1,
            has_bulk=True,
            drain_divisor=4,
            sleep_cap=200,
            sync_producer=True,
            async_waiters=False,
            producer_scenarios=False,
            notes=("one job at a time per process, in the worker process",),
        ),
        Peer(
            "arq", "arq", "arq", ("arq==0.28.0",), ("arq", "redis", "hiredis"), "arq_driver", _arq
        ),
        Peer(
            "saq",
            "SAQ",
            "saq",
            ("saq[redis,hiredis]==0.26.4", "typing_extensions"),
            ("saq", "redis", "hiredis"),
            "saq_driver",
            _saq,
            notes=("saq 0.26.4 imports typing_extensions without declaring it; installed by hand",),
        ),
        Peer(
            "streaq",
            "streaq",
            "streaq",
            ("streaq==7.2.0",),
            ("streaq", "coredis", "anyio"),
            "streaq_driver",
            _streaq,
            has_bulk=True,
        ),
        Peer(
            "taskiq",
            "taskiq + taskiq-redis",
            "taskiq",
            ("taskiq[uv]==0.13.0", "taskiq-redis==1.2.4", "hiredis"),
            ("taskiq", "taskiq-redis", "redis", "hiredis", "uvloop"),
            "taskiq_driver",
            _taskiq,
            notes=("RedisStreamBroker + RedisAsyncResultBackend (results kept 10 min)",),
        ),
    )
}

TOOLS_VENV = "tools"
TOOLS_REQUIREMENTS = ("matplotlib",)
