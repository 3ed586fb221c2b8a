"""The worker: claims jobs in batches, runs them concurrently, acknowledges in batches.

Coroutines, each with one job:
- the fetch loop claims as many jobs as there are free slots (``fetcher.py``), and
  otherwise blocks on the queues' markers (no polling);
- one task per job runs it under its own timeout (``executor.execute``);
- the acker writes finished jobs' outcomes in one script call per batch;
- the heartbeat renews leases and registers the worker (``heartbeat.py``);
- plugins do the background duties: promoting due jobs, reaping expired leases.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Sequence
from types import TracebackType
from typing import Any, Self

import anyio
from redis.exceptions import RedisError

from aqueue.errors import ConnectionFailed, WorkerCrashed
from aqueue.events import Event, EventBus
from aqueue.functions import FunctionRegistry
from aqueue.plugins import default_plugins
from aqueue.plugins.base import Plugin, PluginContext
from aqueue.plugins.promoter import Promoter
from aqueue.plugins.reaper import Reaper
from aqueue.serializers import Serializer, get_serializer
from aqueue.store.errors import TRANSIENT_ERRORS
from aqueue.store.keys import QueueKeys
from aqueue.store.server import check_servers, discover, ping
from aqueue.store.store import Store
from aqueue.worker.acker import Acker
from aqueue.worker.backoff import Backoff
from aqueue.worker.executor import Ack, Claimed, ExecutionContext, execute, fail, handback
from aqueue.worker.fetcher import IDLE_BLOCK, Fetcher
from aqueue.worker.groups import build_groups
from aqueue.worker.heartbeat import Heartbeat, WorkerStats
from aqueue.worker.log_events import JobLogger
from aqueue.worker.logs import short
from aqueue.worker.watchdog import LoopWatchdog

logger = logging.getLogger("aqueue.worker")

DEFAULT_LEASE = 30.0
DEFAULT_GRACE = 30.0
DEFAULT_MAX_DELIVERIES = 3
FINAL_ACK_TIMEOUT = 30.0


class Worker:
    """Runs jobs from ``queues`` (strict priority: earlier queues first).

    Only functions defined in ``imports`` (module names) or listed in ``functions``
    are ever run.
    """

    def __init__(
        self,
        queues: Sequence[str],
        *,
        url: str | None = None,
        connection: Any = None,
        imports: Iterable[str] = (),
        functions: Iterable[Callable[..., Any]] = (),
        concurrency: int = 10,
        threads: int | None = None,
        serializer: str | Serializer | None = None,
        lease: float = DEFAULT_LEASE,
        grace: float = DEFAULT_GRACE,
        max_deliveries: int = DEFAULT_MAX_DELIVERIES,
        burst: bool = False,
        name: str | None = None,
        plugins: Iterable[Plugin] = (),
        log_tracebacks: bool = False,
    ) -> None:
        if not queues:
            raise ValueError("a worker needs at least one queue")
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if lease <= 0:
            raise ValueError(f"lease must be positive, got {lease}")
        if grace < 0:
            raise ValueError(f"grace must be 0 or more seconds, got {grace}")
        if max_deliveries < 0:
            raise ValueError(f"max_deliveries must be 0 (no limit) or more, got {max_deliveries}")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.queues = [QueueKeys.for_queue(q) for q in queues]
        self.name = name or f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:6]}"
        self.store = Store.open(url, connection, name=f"aqueue:worker:{self.name}")
        self.registry = FunctionRegistry(imports, functions)
        self.concurrency = concurrency
        self.lease = lease
        self.grace = grace
        self.max_deliveries = max_deliveries
        self.burst = burst
        self.stats = WorkerStats()
        self.events = EventBus()
        self.events.subscribe(JobLogger(tracebacks=log_tracebacks))
        self._context = ExecutionContext(
            self.registry, get_serializer(serializer),
            anyio.CapacityLimiter(threads or min(concurrency, 40)), self.events, self.name,
        )
        self.promoter = Promoter()
        self.reaper = Reaper()
        self.plugins: list[Plugin] = [self.promoter, self.reaper, *default_plugins(), *plugins]
        self._running: dict[asyncio.Task[None], Claimed] = {}
        self._slot_free = asyncio.Event()
        self._stopping = asyncio.Event()
        self._crash: BaseException | None = None
        self._signals = 0
        self.acker = Acker(self.store, self.stats, on_written=self._recorded)
        self.watchdog = LoopWatchdog(lease, self.describe_running)
        self.fetcher: Fetcher | None = None
        self.started = asyncio.Event()  # set once the worker is registered and claiming
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        """Run the worker in the background (no signal handlers) until the block ends."""
        self._task = asyncio.create_task(self.run(install_signal_handlers=False))
        started = asyncio.create_task(self.started.wait())
        await asyncio.wait([self._task, started], return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if self._task.done():
            self._task.result()  # it failed to start: raise why
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
        if self._task is not None:
            await self._task

    # -- lifecycle ---------------------------------------------------------------------

    async def run(self, install_signal_handlers: bool = True) -> None:
        """Work until ``stop()`` (or SIGINT/SIGTERM, or, in burst mode, no work left)."""
        try:
            await ping(self.store)
            await discover(self.store)
            await check_servers(self.store, f"the queues {', '.join(q.name for q in self.queues)}")
        except BaseException:
            await self.store.close()
            raise
        groups = build_groups(self.queues, cluster=self.store.mode == "cluster")
        self.fetcher = Fetcher(self.store, groups, lease=self.lease, worker_name=self.name,
                               idle_block=1.0 if self.burst else IDLE_BLOCK)
        if install_signal_handlers:
            self._install_signal_handlers()
        heartbeat = Heartbeat(
            self.store, name=self.name, groups=groups, lease=self.lease,
            concurrency=self.concurrency, stats=self.stats,
            inflight=lambda: list(self.acker.inflight.values()),
            running=lambda: len(self._running), events=self.events,
        )
        try:
            await heartbeat.register()
            await self.store.call("SADD", "aq:{aq}:queues", *(q.name for q in self.queues),
                                  key="aq:{aq}:queues")
        except RedisError as exc:
            await self._close_connections()
            raise ConnectionFailed(f"Redis at {self.store.describe()} refused to register "
                                   f"this worker: {exc}") from None
        logger.info("worker %s started: queues %s, concurrency %d, functions from %s",
                    self.name, ", ".join(q.name for q in self.queues), self.concurrency,
                    ", ".join(self.registry.modules) or "(explicit list)")
        context = PluginContext(self.store, self.name, self.queues, groups, self.lease,
                                self.max_deliveries, self._running_tasks)
        acker = self._start(self.acker.run(), "aqueue-acker")
        background = [
            self._start(heartbeat.run(), "aqueue-heartbeat"),
            self._start(self.watchdog.run(), "aqueue-watchdog"),
            *(self._start(p.run(context), f"aqueue-{p.name}") for p in self.plugins),
        ]
        fetcher = self._start(self._fetch_loop(), "aqueue-fetcher")
        self.started.set()
        self.events.emit(Event("worker.started", self.name,
                               data={"queues": [q.name for q in self.queues]}))
        try:
            await self._stopping.wait()
        finally:
            if self.fetcher.claiming:  # let a claim in flight land, so its jobs run (or go back)
                await asyncio.wait([fetcher], timeout=10)
            await cancel_and_wait([fetcher])
            await self._drain_running()
            self.acker.close()
            await asyncio.wait([acker], timeout=FINAL_ACK_TIMEOUT)
            if self.acker.unwritten:
                logger.error("could not record the outcome of %d jobs (Redis unreachable); they "
                             "will run again when their lease expires", self.acker.unwritten)
            await cancel_and_wait([acker, *background])
            with contextlib.suppress(*TRANSIENT_ERRORS):
                await heartbeat.unregister()
            await self._close_connections()
            self.events.emit(Event("worker.stopped", self.name, data={
                "processed": self.stats.processed, "failed": self.stats.failed}))
            logger.info("worker %s stopped: %d processed, %d failed", self.name,
                        self.stats.processed, self.stats.failed)
        if self._crash is not None:
            raise WorkerCrashed(f"worker {self.name} stopped: {self._crash!r}") from self._crash

    async def _close_connections(self) -> None:
        if self.fetcher is not None:
            self.fetcher.close()
        await self.store.close()

    def stop(self) -> None:
        """Stop claiming; running jobs get ``grace`` seconds to finish."""
        self._stopping.set()

    def stop_now(self) -> None:
        """Stop claiming and hand running jobs back to their queues at once."""
        self.grace = 0
        self._stopping.set()
        for task in self._running:
            task.cancel()

    def _start(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._on_task_done)
        return task

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None and self._crash is None:
            self._crash = task.exception()
            logger.critical("%s crashed; stopping the worker", task.get_name(),
                            exc_info=self._crash)
            self.stop()

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError):  # not the main thread
                return

    def _on_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        if self._signals == 1:
            logger.info("%s: finishing %d running jobs (up to %g s); again to stop now",
                        sig.name, len(self._running), self.grace)
            self.stop()
        else:
            logger.warning("%s again: handing %d running jobs back", sig.name, len(self._running))
            self.stop_now()

    async def _drain_running(self) -> None:
        if not self._running:
            return
        _, pending = await asyncio.wait(list(self._running), timeout=self.grace)
        if pending:
            logger.warning("grace period over: handing %d running jobs back", len(pending))
            for task in pending:
                task.cancel()
            await asyncio.wait(pending)

    # -- claiming ----------------------------------------------------------------------

    async def _fetch_loop(self) -> None:
        assert self.fetcher is not None
        backoff = Backoff()
        while not self._stopping.is_set():
            free = self.concurrency - len(self._running)
            if free <= 0:
                self._slot_free.clear()
                await self._slot_free.wait()
                continue
            if not self.acker.healthy.is_set():  # outcomes are refused: claim nothing more
                await self.acker.healthy.wait()
                continue
            try:
                claimed = await self.fetcher.claim(free)
                for job in claimed:
                    self.acker.track(job)
                    job.task = task = asyncio.create_task(self._process(job))
                    self._running[task] = job
                if not claimed:
                    if self.burst and self.acker.inflight:
                        await self.acker.all_acked.wait()  # then look again: retries may be due
                        continue
                    if self.burst and await self.fetcher.idle():
                        logger.info("burst mode: no work left")
                        self.stop()
                        return
                    await self.fetcher.wait_for_work()
                backoff.reset()
            except TRANSIENT_ERRORS as exc:
                await asyncio.sleep(backoff.log(logger, "claiming jobs", exc))

    # -- running -----------------------------------------------------------------------

    async def _process(self, claimed: Claimed) -> None:
        try:
            ack = await execute(claimed, self._context)
        except asyncio.CancelledError:
            self.acker.add(handback(claimed))
            raise
        except Exception as exc:  # a bug in aqueue: fail the job loudly, keep the worker
            logger.exception("job %s: internal error", short(claimed.id))
            ack = fail(claimed, None, "InternalError", f"aqueue could not run the job: {exc!r}")
        finally:
            self._running.pop(claimed.task, None)  # type: ignore[arg-type]
            self._slot_free.set()
        self.acker.add(ack)
        if self.events:
            self.events.emit(Event(
                "job.ran", self.name, claimed.queue_name, claimed.id, claimed.func,
                claimed.attempt, ack.outcome,
                time.monotonic() - claimed.started if claimed.started else None, data={
                    "exc_type": _field(ack.fields, "exc_type"),
                    "exc_message": _field(ack.fields, "exc_message"),
                    "traceback": _field(ack.fields, "exc_traceback"),
                    "retry_in": ack.number if ack.outcome == "retry" else None,
                    "max_attempts": claimed.max_attempts}))

    def _recorded(self, ack: Ack, what: str) -> None:
        if self.events:
            claimed = ack.claimed
            self.events.emit(Event("job.recorded", self.name, claimed.queue_name, claimed.id,
                                   claimed.func, claimed.attempt, what))

    def _running_tasks(self) -> dict[str, asyncio.Task[None]]:
        return {claimed.id: task for task, claimed in self._running.items()}

    def describe_running(self) -> str:
        jobs = list(self._running.values())[:5]
        names = ", ".join(f"{short(j.id)} ({short(j.func or '?')})" for j in jobs)
        more = len(self._running) - len(jobs)
        return names + (f" and {more} more" if more > 0 else "") if names else "nothing"


async def cancel_and_wait(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel tasks and wait for them to end, cancelling again if a library swallowed the
    first cancellation."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.5)


def _field(fields: list[Any], name: str) -> Any:
    for i in range(0, len(fields) - 1, 2):
        if fields[i] == name:
            return fields[i + 1]
    return None
