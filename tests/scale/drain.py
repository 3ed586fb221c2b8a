"""A queue drained by real worker processes while the test disrupts its Redis servers,
with every execution recorded in a ledger Redis the disruption never touches.

``Drain`` enqueues jobs (``tests.chaos.jobs.work``, the job id is its ledger tag), runs
``python -m aqueue worker`` processes, and at the end tells, job by job, whether each
finished, how many ran more than once, and the longest pause in the stream of job ends.
Sizes come from ``$AQUEUE_SCALE_JOBS`` (``make chaos`` raises them).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import redis

from aqueue import AsyncQueue, ConnectionFailed, JobExistsError, JobStatus
from aqueue.errors import AqueueError
from tests.chaos import jobs
from tests.redis_servers import RedisServer

ROOT = Path(__file__).resolve().parents[2]
READY_LINE = "started: queues"
DISCARDED = re.compile(r"outcome discarded|refused its outcome|could not record the outcome")


def scale_jobs(default: int) -> int:
    """How many jobs a scenario drains: ``$AQUEUE_SCALE_JOBS`` or ``default``."""
    return int(os.environ.get("AQUEUE_SCALE_JOBS") or default)


@dataclass
class DrainReport:
    """What one scenario measured."""

    scenario: str
    jobs: int
    finished: int
    lost: list[str]
    duplicates: int  # executions beyond each job's first
    jobs_run_twice: int
    pause_seconds: float  # longest gap between two job ends
    seconds: float
    discarded_outcomes: int  # outcomes the workers logged as not written
    producer_errors: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        return (f"{self.scenario}: {self.finished}/{self.jobs} finished, {len(self.lost)} lost, "
                f"{self.duplicates} duplicate executions ({self.jobs_run_twice} jobs), longest "
                f"pause {self.pause_seconds:.2f} s, {self.seconds:.1f} s in all, "
                f"{self.discarded_outcomes} discarded outcomes, producer errors "
                f"{self.producer_errors or 'none'} {self.extra or ''}")

    def record(self) -> None:
        """Print the figures, and append them to ``$AQUEUE_FAULT_REPORT`` if set."""
        print(self.summary())
        path = os.environ.get("AQUEUE_FAULT_REPORT")
        if path:
            with open(path, "a") as out:
                out.write(json.dumps({**asdict(self), "lost": self.lost[:20]}) + "\n")


def assert_nothing_lost(report: DrainReport) -> None:
    assert report.lost == [], report.summary()
    assert report.finished == report.jobs, report.summary()


class Drain:
    def __init__(self, url: str, queues: list[str], log_dir: Path) -> None:
        self.url = url
        self.queue_names = queues
        self.log_dir = log_dir
        self.ledger_server = RedisServer()
        self.workers: list[subprocess.Popen[bytes]] = []
        self.tags: dict[str, str] = {}  # tag -> queue
        self.producer_errors: Counter[str] = Counter()
        self.started = time.monotonic()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
        self.ledger_server.close()

    # -- workers -------------------------------------------------------------------------

    def spawn(self, *, concurrency: int = 20, lease: float = 5.0) -> subprocess.Popen[bytes]:
        index = len(self.workers) + 1
        log = (self.log_dir / f"worker{index}.log").open("wb")
        env = {**os.environ, jobs.LEDGER_ENV: self.ledger_server.url, "PYTHONUNBUFFERED": "1"}
        env.pop("AQUEUE_URL", None)
        process = subprocess.Popen(
            [sys.executable, "-m", "aqueue", "worker", *self.queue_names, "--url", self.url,
             "--import", "tests.chaos.jobs", "--concurrency", str(concurrency), "--lease",
             str(lease), "--grace", "5", "--max-deliveries", "0", "--name", f"w{index}"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        self.workers.append(process)
        return process

    def log(self, index: int) -> str:
        return (self.log_dir / f"worker{index + 1}.log").read_text(errors="replace")

    async def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        for index, process in enumerate(self.workers):
            while READY_LINE not in self.log(index):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"worker {index + 1} did not start:\n"
                                         f"{self.log(index)[-3000:]}")
                await asyncio.sleep(0.05)

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(30)

    # -- jobs ----------------------------------------------------------------------------

    async def enqueue(self, per_queue: int, ms: int = 10) -> None:
        """``per_queue`` jobs on every queue, in one batch per 500."""
        for name in self.queue_names:
            async with AsyncQueue(name, url=self.url) as queue:
                batch = []
                for i in range(per_queue):
                    tag = f"{name}-{len(self.tags)}"
                    self.tags[tag] = name
                    batch.append(queue.prepare("tests.chaos.jobs.work", tag, ms, i, job_id=tag))
                await queue.enqueue_many(batch, batch_size=500)

    async def produce(self, count: int, interval: float, ms: int = 10) -> None:
        """Enqueue ``count`` jobs one at a time, ``interval`` s apart, on the first queue.
        A ``ConnectionFailed`` is counted and the same job (same id) sent again until it is
        in; anything else (a raw Redis error) is counted by its type and message."""
        name = self.queue_names[0]
        async with AsyncQueue(name, url=self.url) as queue:
            for i in range(count):
                tag = f"{name}-p{i}"
                while True:
                    try:
                        await queue.enqueue("tests.chaos.jobs.work", tag, ms, i, job_id=tag)
                        break
                    except JobExistsError:  # the earlier, uncertain attempt did get in
                        break
                    except ConnectionFailed:
                        self.producer_errors["ConnectionFailed"] += 1
                        await asyncio.sleep(0.05)
                    except Exception as exc:  # what producers must never see: count it
                        kind = "AqueueError" if isinstance(exc, AqueueError) else "raw"
                        self.producer_errors[f"{kind} {type(exc).__name__}: {exc}"[:120]] += 1
                        await asyncio.sleep(0.05)
                self.tags[tag] = name
                await asyncio.sleep(interval)

    def ends_between(self, first: float, last: float) -> int:
        """How many job ends the ledger has between two Unix times."""
        with redis.Redis(port=self.ledger_server.port) as ledger:
            stamps = [float(entry.split()[1]) for key in ledger.scan_iter(f"{jobs.ENDS}*")
                      for entry in ledger.lrange(key, 0, -1)]
        return sum(1 for at in stamps if first <= at <= last)

    def ends(self) -> int:
        with redis.Redis(port=self.ledger_server.port) as ledger:
            return sum(1 for _ in ledger.scan_iter(f"{jobs.ENDS}*", count=1000))

    async def wait_for_ends(self, count: int, timeout: float = 60) -> None:
        """Until ``count`` jobs have ended (the moment a test strikes)."""
        deadline = time.monotonic() + timeout
        while self.ends() < count:
            assert time.monotonic() < deadline, f"only {self.ends()} of {count} jobs ended"
            await asyncio.sleep(0.05)

    async def wait_until_finished(self, timeout: float) -> None:
        """Until every job is finished in Redis and has an end in the ledger (a job run
        twice may have ended once and still be running), or is gone from Redis (lost for
        good: nothing can bring it back), or ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index, process in enumerate(self.workers):
                if process.poll() is not None and process.returncode not in (0, -9):
                    raise AssertionError(f"worker {index + 1} exited with "
                                         f"{process.returncode}:\n{self.log(index)[-3000:]}")
            statuses = await self.statuses()
            if statuses.get("finished", 0) + statuses.get("missing", 0) >= len(self.tags) \
                    and self.ends() >= statuses.get("finished", 0):
                return
            await asyncio.sleep(0.2)

    async def statuses(self) -> Counter[str]:
        found: Counter[str] = Counter()
        for name in self.queue_names:
            async with AsyncQueue(name, url=self.url) as queue:
                tags = [t for t, q in self.tags.items() if q == name]
                for start in range(0, len(tags), 500):
                    got = await asyncio.gather(*(queue.get_status(t) for t in
                                                 tags[start:start + 500]),
                                               return_exceptions=True)
                    found.update(s.value if isinstance(s, JobStatus) else "missing"
                                 for s in got)
        return found

    async def report(self, scenario: str, **extra: Any) -> DrainReport:
        seconds = time.monotonic() - self.started
        with redis.Redis(port=self.ledger_server.port) as ledger, \
                ledger.pipeline(transaction=False) as pipe:
            tags = list(self.tags)
            for tag in tags:
                pipe.lrange(jobs.STARTS + tag, 0, -1)
            for tag in tags:
                pipe.lrange(jobs.ENDS + tag, 0, -1)
            replies = pipe.execute()
        starts, ends = replies[:len(tags)], replies[len(tags):]
        lost = [tag for tag, runs in zip(tags, ends, strict=True) if not runs]
        times = sorted(float(entry.split()[1]) for runs in ends for entry in runs)
        pause = max((b - a for a, b in itertools.pairwise(times)), default=0.0)
        duplicates = sum(max(0, len(runs) - 1) for runs in starts)
        statuses = await self.statuses()
        discarded = sum(len(DISCARDED.findall(self.log(i))) for i in range(len(self.workers)))
        return DrainReport(
            scenario, len(tags), statuses.get("finished", 0), lost, duplicates,
            sum(1 for runs in starts if len(runs) > 1), pause, seconds, discarded,
            dict(self.producer_errors), {**extra, "statuses": dict(statuses)})
