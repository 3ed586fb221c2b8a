"""The chaos harness, shared by every chaos test.

``Chaos`` owns one scenario's world: a private redis-server for the queue, a second one
for the ledger (where ``tests.chaos.jobs`` records every execution, out of the chaos's
reach), and real ``python -m aqueue worker`` processes, each logging to its own file.
Leaving the ``with`` block SIGKILLs every worker still running and stops both servers.

At the end, ``Chaos.verify`` checks job by job that each one finished exactly as
expected, and counts the executions beyond the first: a job may run again only if an
earlier execution was on a worker the test disrupted (``Chaos.disrupted``).
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import anyio
import redis

from aqueue import AsyncQueue
from aqueue.job import Job
from aqueue.store import keys
from aqueue.store.keys import QueueKeys
from tests.chaos import jobs
from tests.redis_servers import RedisServer

REPO_ROOT = Path(__file__).resolve().parents[2]
QUEUE = "chaos"
READY_LINE = "started: queues"
# How a worker logs that the ack script rejected its outcome (its lease was lost), in the
# wordings aqueue has used ("job <id>: result discarded, ...", "job <id>: outcome discarded").
DISCARDED = re.compile(r"job (\S+): (?:result|outcome) discarded")
PR_SET_PDEATHSIG = 1
FULL_SIZE_ENV = "AQUEUE_CHAOS_FULL"  # set by `make chaos`: see chaos_size()


def _die_with_parent() -> None:
    """In the child, before exec: get SIGKILLed if the test process dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


@dataclass
class WorkerProcess:
    """One ``python -m aqueue worker`` subprocess."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    spawned_at: float
    exited_at: float | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def send(self, sig: signal.Signals) -> float:
        """Send ``sig``; returns when (Unix time)."""
        at = time.time()
        os.kill(self.pid, sig)
        return at

    def tail(self, lines: int = 12) -> str:
        return "\n".join(f"    {line}" for line in self.log().splitlines()[-lines:])


@dataclass(frozen=True)
class Run:
    """One execution of a job, as recorded in the ledger."""

    pid: int
    at: float


@dataclass
class Verdict:
    """The outcome of ``Chaos.verify``."""

    jobs: int
    duplicates: int = 0
    rerun: dict[str, list[int]] = field(default_factory=dict)  # tag -> pids that started it
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.jobs} jobs checked, {len(self.problems)} problems; "
                f"{self.duplicates} duplicate executions in {len(self.rerun)} jobs "
                "(allowed only on disrupted workers)")


class Chaos:
    """One chaos scenario: queue Redis, ledger Redis, worker processes."""

    def __init__(self, log_dir: Path, *redis_args: str, queue: str = QUEUE) -> None:
        self.log_dir = log_dir
        self.queue_name = queue
        self.keys = QueueKeys.for_queue(queue)
        self.workers: list[WorkerProcess] = []
        self.disrupted: set[int] = set()  # pids whose jobs may legitimately run again
        self.server = RedisServer(*redis_args)
        try:
            self.ledger_server = RedisServer()
        except BaseException:
            self.server.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """SIGKILL every worker still running (stopped ones too), stop both servers."""
        for worker in self.workers:
            if worker.alive():
                worker.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(timeout=10)
        self.server.close()
        self.ledger_server.close()

    # -- clients -------------------------------------------------------------------------

    def client(self) -> redis.Redis:
        """A new client of the queue's Redis (close it: ``with chaos.client() as r``)."""
        return redis.Redis(port=self.server.port, socket_timeout=10)

    def ledger(self) -> redis.Redis:
        return redis.Redis(port=self.ledger_server.port, socket_timeout=10)

    def queue(self) -> AsyncQueue:
        return AsyncQueue(self.queue_name, url=self.server.url)

    # -- workers -------------------------------------------------------------------------

    def spawn(
        self, *, concurrency: int = 10, lease: float = 2.0, grace: float = 5.0,
        max_deliveries: int = 0, name: str | None = None, imports: Sequence[str] = (),
        extra_args: Sequence[str] = (), env: Mapping[str, str] | None = None,
        url: str | None = None,
    ) -> WorkerProcess:
        """Start a worker process (it needs ``wait_ready`` before it claims anything).

        ``imports``: modules allowed besides ``tests.chaos.jobs``; ``extra_args``: more
        ``aqueue worker`` options (``--burst``, ``--threads N``...); ``env``: variables
        for this process only (e.g. libfaketime's); ``url``: another URL of the queue's
        server (with a password...)."""
        name = name or f"w{len(self.workers) + 1}"
        log_path = self.log_dir / f"{name}.log"
        command = [
            sys.executable, "-m", "aqueue", "worker", self.queue_name,
            "--url", url or self.server.url, "--import", "tests.chaos.jobs",
            *(arg for module in imports for arg in ("--import", module)),
            "--concurrency", str(concurrency), "--lease", str(lease), "--grace", str(grace),
            "--max-deliveries", str(max_deliveries), "--name", name, "--log-level", "INFO",
            *extra_args,
        ]
        env = {**os.environ, jobs.LEDGER_ENV: self.ledger_server.url, "PYTHONUNBUFFERED": "1",
               **(env or {})}
        env.pop("AQUEUE_URL", None)
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent,
            )
        worker = WorkerProcess(name, process, log_path, time.time())
        self.workers.append(worker)
        return worker

    async def spawn_ready(self, timeout: float = 20, **options: Any) -> WorkerProcess:
        worker = self.spawn(**options)
        await self.wait_ready(worker, timeout)
        return worker

    async def wait_ready(self, worker: WorkerProcess, timeout: float = 20) -> None:
        def ready() -> bool:
            if not worker.alive():
                raise AssertionError(f"worker {worker.name} exited with "
                                     f"{worker.process.returncode}:\n{worker.tail(40)}")
            return READY_LINE in worker.log()

        await self.wait_for(ready, timeout, f"worker {worker.name} to start", interval=0.05)

    async def wait_for_log(self, worker: WorkerProcess, line: str, timeout: float) -> float:
        """Wait until ``worker``'s log contains ``line``; returns when (Unix time)."""
        return await self.wait_for(lambda: line in worker.log(), timeout,
                                   f"{worker.name} to log {line!r}")

    async def wait_discarded(self, worker: WorkerProcess, tag: str, timeout: float) -> float:
        """Wait until ``worker`` logs that its outcome for job ``tag`` was rejected."""
        return await self.wait_for(lambda: tag in discarded(worker), timeout,
                                   f"{worker.name} to log that its outcome of {tag} was "
                                   "discarded")

    def kill(self, worker: WorkerProcess) -> float:
        """SIGKILL ``worker``; its running jobs may run again. Returns when (Unix time)."""
        self.disrupted.add(worker.pid)
        at = worker.send(signal.SIGKILL)
        worker.process.wait(timeout=10)
        worker.exited_at = time.time()
        return at

    async def wait_exit(self, worker: WorkerProcess, timeout: float) -> int:
        """Wait for ``worker`` to exit; returns its exit code."""
        await self.wait_for(lambda: not worker.alive(), timeout, f"worker {worker.name} to exit")
        worker.exited_at = time.time()
        return worker.process.returncode

    def pids(self) -> dict[str, int]:
        return {w.name: w.pid for w in self.workers}

    def holder_of(self, token: str) -> str | None:
        """The worker whose claim a job's ``token`` field is: tokens start with the
        worker's name, then ``.`` or ``:``."""
        for worker in self.workers:
            if token.startswith((worker.name + ".", worker.name + ":")):
                return worker.name
        return None

    # -- waiting -------------------------------------------------------------------------

    async def wait_for(
        self, predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.02,
    ) -> float:
        """Poll ``predicate`` until true; returns when (Unix time). Fails after ``timeout``."""
        __tracebackhide__ = True
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}\n"
                                     f"{self.describe()}")
            await anyio.sleep(interval)
        return time.time()

    async def settle(
        self, predicate: Callable[[], bool], timeout: float, interval: float = 0.05,
    ) -> bool:
        """Poll ``predicate`` for up to ``timeout`` seconds; returns whether it came true
        (for waits after which ``verify`` reports in detail what went wrong)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                return False
            await anyio.sleep(interval)
        return True

    def describe(self) -> str:
        """Queue counters and every worker's last log lines, for failure messages."""
        parts = []
        try:
            parts.append(f"queue: {self.queue_state()}")
        except redis.RedisError as exc:
            parts.append(f"queue: unreadable ({exc})")
        for w in self.workers:
            state = "running" if w.alive() else f"exited {w.process.returncode}"
            parts.append(f"  worker {w.name} pid {w.pid} ({state}), last lines:\n{w.tail()}")
        return "\n".join(parts)

    # -- reading state -------------------------------------------------------------------

    def queue_state(self) -> dict[str, Any]:
        k = self.keys
        with self.client() as r, r.pipeline(transaction=False) as pipe:
            pipe.llen(k.queued)
            pipe.zcard(k.started)
            pipe.zcard(k.scheduled)
            pipe.zcard(k.failed)
            pipe.hgetall(k.stats)
            queued, started, scheduled, failed, stats = pipe.execute()
        return {"queued": queued, "started": started, "scheduled": scheduled, "failed": failed,
                **{text(key) or "": int(value) for key, value in stats.items()}}

    def finished_count(self) -> int:
        with self.client() as r:
            return int(r.hget(self.keys.stats, "finished") or 0)

    def worker_hash(self, name: str) -> dict[str, str]:
        """A worker's registration (``aq:{aq}:worker:<name>``), as its heartbeat last wrote it."""
        with self.client() as r:
            raw = r.hgetall(keys.worker_key(name))
        return {text(key) or "": text(value) or "" for key, value in raw.items()}

    def job_hash(self, job_id: str) -> dict[str, str]:
        with self.client() as r:
            raw = r.hgetall(self.keys.job(job_id))
        return {text(key) or "": text(value) or "" for key, value in raw.items()}

    def runs(self, tags: Iterable[str], kind: str = "starts") -> dict[str, list[Run]]:
        """Each job's executions from the ledger (``kind``: starts or ends)."""
        prefix = jobs.STARTS if kind == "starts" else jobs.ENDS
        tags = list(tags)
        out: dict[str, list[Run]] = {}
        with self.ledger() as ledger:
            for first in range(0, len(tags), 1000):
                chunk = tags[first:first + 1000]
                with ledger.pipeline(transaction=False) as pipe:
                    for tag in chunk:
                        pipe.lrange(prefix + tag, 0, -1)
                    replies = pipe.execute()
                for tag, entries in zip(chunk, replies, strict=True):
                    out[tag] = [_parse_run(entry) for entry in entries]
        return out

    def started_by(self, tag: str, pid: int) -> Run | None:
        """The first start of job ``tag`` by process ``pid``, if there was one."""
        return next((run for run in self.runs([tag])[tag] if run.pid == pid), None)

    async def wait_started(self, tag: str, worker: WorkerProcess, timeout: float) -> Run:
        """Wait until ``worker`` starts job ``tag``; returns that start."""
        await self.wait_for(lambda: self.started_by(tag, worker.pid) is not None, timeout,
                            f"job {tag} to start on {worker.name}")
        run = self.started_by(tag, worker.pid)
        assert run is not None
        return run

    # -- the verdict ---------------------------------------------------------------------

    def verify(self, expected: Mapping[str, int], failed: Iterable[str] = ()) -> Verdict:
        """Check every job of ``expected`` (job id == tag -> expected value) finished once,
        with the right result, from the worker holding its last claim; check that exactly
        the ids of ``failed`` are in the failed registry; and count duplicates."""
        failed_ids = set(failed)
        verdict = Verdict(jobs=len(expected))
        problems = verdict.problems
        pids = self.pids()
        tags = list(expected)
        hashes: dict[str, dict[bytes, bytes]] = {}
        with self.client() as r:
            for first in range(0, len(tags), 1000):
                chunk = tags[first:first + 1000]
                with r.pipeline(transaction=False) as pipe:
                    for tag in chunk:
                        pipe.hgetall(self.keys.job(tag))
                    hashes.update(zip(chunk, pipe.execute(), strict=True))
        starts = self.runs(tags)
        holders: dict[str, str] = {}
        for tag, value in expected.items():
            fields = {text(k): text(v) for k, v in hashes[tag].items()}
            runs = [run.pid for run in starts[tag]]
            if len(runs) > 1:
                verdict.duplicates += len(runs) - 1
                verdict.rerun[tag] = runs
            status = fields.get("status")
            if status != "finished":
                problems.append(f"job {tag}: status {status!r}, expected 'finished' "
                                f"(exc {fields.get('exc_type')}: {fields.get('exc_message')}; "
                                f"deliveries {fields.get('deliveries')}, started by {runs})")
                continue
            token = fields.get("token") or ""
            holder = self.holder_of(token)
            holder_pid = pids.get(holder or "")
            if holder is None or holder_pid is None:
                problems.append(f"job {tag}: its claim token {token!r} names none of the "
                                f"workers {sorted(pids)}")
                continue
            holders[tag] = holder
            try:
                result = json.loads(fields.get("result") or "null")
            except ValueError:
                result = fields.get("result")
            if result != {"value": value, "pid": holder_pid}:
                problems.append(f"job {tag}: result {result!r}, expected value {value} from "
                                f"{holder} (pid {holder_pid}), the holder of its last claim")
            if holder_pid not in runs:
                problems.append(f"job {tag}: finished by {holder} (pid {holder_pid}), which "
                                f"never started it (started by {runs})")
                continue
            others = list(runs)
            others.remove(holder_pid)
            undisrupted = [pid for pid in others if pid not in self.disrupted]
            if undisrupted:
                problems.append(f"job {tag}: ran {len(runs)} times (pids {runs}, kept the result "
                                f"of {holder_pid}) though pids {undisrupted} were not disrupted")
        for worker in self.workers:
            rejected = collections.Counter(discarded(worker))
            for tag, count in rejected.items():
                # A worker that ran the job again (it claimed it back after a stall) may
                # hold the result of its last run and have had the earlier ones rejected.
                own_runs = sum(1 for run in starts.get(tag, []) if run.pid == worker.pid)
                if holders.get(tag) == worker.name and count >= own_runs:
                    problems.append(
                        f"job {tag}: {worker.name} logged that its outcome was discarded (lease "
                        "lost), yet the job holds its result: the ack was written, then sent "
                        "again and rejected")
        state = self.queue_state()
        for name in ("queued", "started", "scheduled"):
            if state[name]:
                problems.append(f"{state[name]} job ids left in {name}")
        with self.client() as r:
            in_failed = {text(i) for i in r.zrange(self.keys.failed, 0, -1)}
        if in_failed != failed_ids:
            problems.append(f"failed registry holds {sorted(map(str, in_failed))}, expected "
                            f"{sorted(failed_ids)}")
        if state.get("finished", 0) != len(expected):
            problems.append(f"stats count {state.get('finished', 0)} finished jobs for "
                            f"{len(expected)} jobs: some finished twice or not at all")
        if state.get("failed", 0) != len(failed_ids):
            problems.append(f"stats count {state.get('failed', 0)} failed jobs, expected "
                            f"{len(failed_ids)}")
        return verdict

    def assert_verdict(self, verdict: Verdict, note: str = "") -> None:
        """Print the verdict (``pytest -rA`` shows it) and fail if it has problems."""
        __tracebackhide__ = True
        print(f"chaos verdict: {verdict.summary()}{'; ' + note if note else ''}")
        for tag, runs in list(verdict.rerun.items())[:10]:
            print(f"  re-run: job {tag} started by pids {runs}")
        if verdict.problems:
            listed = "\n".join(f"  - {p}" for p in verdict.problems[:25])
            more = len(verdict.problems) - 25
            raise AssertionError(
                f"{verdict.summary()}{'; ' + note if note else ''}\n{listed}"
                f"{f'  ... and {more} more' if more > 0 else ''}\n{self.describe()}")


def chaos_size(small: int, full: int) -> int:
    """``small`` in ``make test``; ``full`` under ``make chaos`` ($AQUEUE_CHAOS_FULL=1),
    for faults that need bigger sizes to be convincing."""
    return full if os.environ.get(FULL_SIZE_ENV) == "1" else small


def thread_count(pid: int) -> int:
    """How many threads process ``pid`` has now (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError(f"no Threads: line in /proc/{pid}/status")


def discarded(worker: WorkerProcess) -> list[str]:
    """Ids of the jobs whose outcome ``worker`` logged as rejected by the ack script."""
    return DISCARDED.findall(worker.log())


def _parse_run(entry: bytes | str) -> Run:
    pid, at = (text(entry) or "").split()
    return Run(int(pid), float(at))


def prepare_work(
    queue: AsyncQueue, count: int, rng: random.Random, *, min_ms: int, max_ms: int,
    prefix: str = "job",
) -> tuple[list[Job[Any]], dict[str, int]]:
    """``count`` jobs alternating ``jobs.work`` (async) and ``jobs.work_sync`` (thread),
    each sleeping a random ``min_ms``..``max_ms``; their ids are their ledger tags.
    Returns the prepared jobs and the expected value of each."""
    prepared: list[Job[Any]] = []
    expected: dict[str, int] = {}
    for i in range(count):
        tag = f"{prefix}-{i}"
        fn = jobs.work if i % 2 == 0 else jobs.work_sync
        value = rng.randrange(1_000_000)
        prepared.append(queue.prepare(fn, tag, rng.randint(min_ms, max_ms), value, job_id=tag))
        expected[tag] = jobs.expected_value(value)
    return prepared, expected
