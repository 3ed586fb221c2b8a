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
import uuid
from collections.abc import Callable, Coroutine, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from redis.exceptions import RedisError

from aqueue.cron.definition import CronJob
from aqueue.cron.plugin import CronPlugin
from aqueue.errors import ConnectionFailed, WorkerCrashed
from aqueue.events import Event, EventBus
from aqueue.functions import FunctionRegistry
from aqueue.jobcontrol.updates import JobUpdates
from aqueue.log_text import clip
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
from aqueue.worker.callbacks import Callbacks
from aqueue.worker.cancel import Canceller
from aqueue.worker.claim_gate import THREADS_STUCK, ClaimGate
from aqueue.worker.executor import (
    Ack,
    Claimed,
    ExecutionContext,
    execute,
    fail,
    handback,
    task_factory,
)
from aqueue.worker.fetcher import IDLE_BLOCK, Fetcher
from aqueue.worker.groups import build_groups
from aqueue.worker.heartbeat import Heartbeat, WorkerStats
from aqueue.worker.job_threads import JobThreads
from aqueue.worker.log_events import JobLogger
from aqueue.worker.running import RunningJobs
from aqueue.worker.watchdog import LoopWatchdog
from aqueue.workflow.delivery import Delivery

if TYPE_CHECKING:
    from aqueue.observe.metrics import WorkerMetrics

logger = logging.getLogger("aqueue.worker")

DEFAULT_LEASE = 30.0
DEFAULT_GRACE = 30.0
DEFAULT_MAX_DELIVERIES = 3
FINAL_ACK_TIMEOUT = 30.0


class Worker:
    """Runs jobs from ``queues`` (strict priority: earlier queues first).

    Only functions defined in ``imports`` (module names) or listed in ``functions``
    are ever run. ``metrics``: an ``aqueue.observe.metrics.WorkerMetrics`` to feed.
    ``cron``: schedules (``aqueue.cron.CronJob``) this worker declares and helps run.
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
        metrics: WorkerMetrics | None = None,
        cron: Iterable[CronJob] = (),
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
        self.events.subscribe(JobLogger(tracebacks=log_tracebacks), kinds={"job.ran"},
                              outcomes={"failed", "retry"})
        self.gate = ClaimGate()
        self.threads = JobThreads(threads or min(concurrency, 40), self.gate)
        self.promoter = Promoter()
        self.reaper = Reaper()
        # schedules (cron=) and those added at runtime: every worker may enqueue their runs
        self.cron = CronPlugin(cron, serializer=get_serializer(serializer))
        self.delivery = Delivery()  # dependents of ended jobs (aqueue.workflow)
        self.plugins: list[Plugin] = [self.promoter, self.reaper, self.cron, self.delivery,
                                      *default_plugins(), *plugins]
        self._stopping = asyncio.Event()
        self._crash: BaseException | None = None
        self._signals = 0
        self.acker = Acker(self.store, self.stats, self.gate, on_written=self._recorded)
        self.acker.on_outbox = self.delivery.kick
        self.running = RunningJobs(self.acker, self.events, self.name)
        self._context = ExecutionContext(self.registry, get_serializer(serializer),
                                         self.threads, self.running.settle, self.events,
                                         self.name)
        self.canceller = Canceller(self.running)
        self.updates = JobUpdates(self.store)  # jobs' meta and progress (jobcontrol)
        self.callbacks = Callbacks(self.registry, self._context.serializer, self.updates)
        self.watchdog = LoopWatchdog(lease, self.describe_running)
        self.fetcher: Fetcher | None = None
        self.started = asyncio.Event()  # set once the worker is registered and claiming
        self._task: asyncio.Task[None] | None = None
        if metrics is not None:
            metrics.attach(self)

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
            inflight=self.acker.current_claims, running=lambda: len(self.running),
            extra=self.gauges, events=self.events,
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
                                self.max_deliveries, self._running_tasks, self._cancel_job)
        loop = asyncio.get_running_loop()
        previous_factory = loop.get_task_factory()
        loop.set_task_factory(task_factory(previous_factory))
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
            await self.running.drain(self.grace)
            self.acker.close()
            await asyncio.wait([acker], timeout=FINAL_ACK_TIMEOUT)
            await self.callbacks.drain()
            if self.acker.unwritten:
                logger.error("could not record the outcome of %d jobs (Redis unreachable); they "
                             "will run again when their lease expires", self.acker.unwritten)
            await cancel_and_wait([acker, *background])
            with contextlib.suppress(*TRANSIENT_ERRORS):
                await heartbeat.unregister()
            await self._close_connections()
            loop.set_task_factory(previous_factory)
            if self.abandoned:
                logger.warning("%d jobs ignored their cancellation and are still running: %s",
                               self.abandoned, self.running.describe(self.running.abandoned))
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
        self.running.hand_back_now()

    @property
    def abandoned(self) -> int:
        """Jobs recorded (timed out, or handed back) whose coroutine ignored its
        cancellation and still runs: ``asyncio.run()`` would wait for them for ever."""
        return len(self.running.abandoned)

    def gauges(self) -> dict[str, Any]:
        """What the heartbeat publishes besides the counters of ``stats``."""
        return {"stuck_threads": len(self.threads.stuck), "abandoned_jobs": self.abandoned}

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
                        sig.name, len(self.running), self.grace)
            self.stop()
        else:
            logger.warning("%s again: handing %d running jobs back", sig.name, len(self.running))
            self.stop_now()

    # -- claiming ----------------------------------------------------------------------

    async def _fetch_loop(self) -> None:
        assert self.fetcher is not None
        self.updates.bind()  # the jobs started from here can write meta and progress
        backoff = Backoff()
        while not self._stopping.is_set():
            free = self.concurrency - len(self.running)
            if free <= 0:
                self.running.slot_free.clear()
                await self.running.slot_free.wait()
                continue
            if not self.gate.is_open:  # see claim_gate.py
                if self.burst and self.gate.holds(THREADS_STUCK):
                    logger.error("burst mode: every job thread is stuck; stopping")
                    self.stop()
                    return
                await self.gate.wait_open()
                continue
            try:
                claimed = await self.fetcher.claim(free)
                for job in claimed:
                    self.acker.track(job)
                    # Not through the loop's task factory (set by run()): it only guards the
                    # tasks that jobs create, and costs a Python call per task.
                    self.running.add(job, asyncio.Task(self._process(job)))
                    if self.canceller.early:  # canceled before its claim landed here
                        self.canceller.claimed(job)
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
            self.running.finish(claimed, handback(claimed))
            raise
        except Exception as exc:  # a bug in aqueue: fail the job loudly, keep the worker
            logger.exception("job %s: internal error", clip(claimed.id))
            ack = fail(claimed, None, "InternalError", f"aqueue could not run the job: {exc!r}")
        except BaseException:
            self.running.free_slot(claimed)
            raise
        if ack is not None:  # (None: settled already, at its deadline...)
            if self.updates.writing:  # its meta and progress go before its outcome
                await self.updates.flush(claimed)
            self.running.finish(claimed, ack)

    def _recorded(self, ack: Ack, what: str) -> None:
        self.callbacks.recorded(ack, what)
        if self.events.wants("job.recorded", what):
            claimed = ack.claimed
            self.events.emit(Event("job.recorded", self.name, claimed.queue_name, claimed.id,
                                   claimed.func, claimed.attempt, what))

    def _running_tasks(self) -> dict[str, asyncio.Task[None]]:
        return {claimed.id: task for task, claimed in self.running.tasks.items()}

    def _cancel_job(self, job_id: str, token: str) -> bool:
        return self.canceller.cancel(job_id, token)

    def describe_running(self) -> str:
        return self.running.describe(self.running.tasks)


async def cancel_and_wait(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel tasks and wait for them to end, cancelling again if a library swallowed the
    first cancellation."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.5)

