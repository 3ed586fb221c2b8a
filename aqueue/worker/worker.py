"""The worker: claims jobs in batches, runs them concurrently, acknowledges in batches.

Coroutines, each with one job:
- the fetcher claims as many jobs as there are free slots with one script call, and
  otherwise blocks on the queues' markers (one connection, no polling);
- one task per job runs it under its own timeout (``executor.execute``);
- the acker writes finished jobs' outcomes in one script call per batch;
- the scheduler promotes due jobs and reaps expired leases (``scheduler.py``);
- the heartbeat renews leases and registers the worker (``heartbeat.py``).
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
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from aqueue.errors import ConnectionFailed, WorkerCrashed
from aqueue.functions import FunctionRegistry
from aqueue.serializers import Serializer, get_serializer
from aqueue.store.connection import check_redis_version, connect, describe, max_block, ping
from aqueue.store.keys import QueueKeys
from aqueue.store.resp import RespConnection
from aqueue.store.scripts import Scripts
from aqueue.worker.acker import Acker
from aqueue.worker.backoff import TRANSIENT_ERRORS, Backoff
from aqueue.worker.claim_gate import THREADS_STUCK, ClaimGate
from aqueue.worker.executor import Claimed, ExecutionContext, execute, fail, handback, task_factory
from aqueue.worker.heartbeat import Heartbeat, LoopWatchdog, WorkerStats
from aqueue.worker.job_threads import JobThreads
from aqueue.worker.log_text import clip
from aqueue.worker.running import RunningJobs
from aqueue.worker.scheduler import Scheduler

logger = logging.getLogger("aqueue.worker")

DEFAULT_LEASE = 30.0
DEFAULT_GRACE = 30.0
DEFAULT_MAX_DELIVERIES = 3
BURST_HORIZON = 5.0  # burst mode waits for scheduled jobs due within this many seconds
IDLE_BLOCK = 5.0
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
        connection: Redis | None = None,
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
    ) -> None:
        if not queues:
            raise ValueError("a worker needs at least one queue")
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if lease <= 0:
            raise ValueError(f"lease must be positive, got {lease}")
        self.queues = [QueueKeys.for_queue(q) for q in queues]
        self.url = url
        self._owns_connection = connection is None
        self.redis: Redis = connection if connection is not None else connect(url)
        self.registry = FunctionRegistry(imports, functions)
        self.concurrency = concurrency
        self.lease = lease
        self.grace = grace
        self.max_deliveries = max_deliveries
        self.burst = burst
        self.name = name or f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:6]}"
        self.stats = WorkerStats()
        self.gate = ClaimGate()
        self.threads = JobThreads(threads or min(concurrency, 40), self.gate)
        self._scripts = Scripts(self.redis)
        self._blocking = RespConnection.like(self.redis)
        self._all_keys = [key for q in self.queues for key in q.script_keys()]
        self._markers = [q.marker for q in self.queues]
        self._idle_block = max_block(self.redis, 1.0 if burst else IDLE_BLOCK)
        self._claim_prefix = f"{self.name}.{uuid.uuid4().hex[:8]}"
        self._claims = 0
        self._claiming = False
        self._stopping = asyncio.Event()
        self._crash: BaseException | None = None
        self._signals = 0
        self.acker = Acker(self._scripts, self._all_keys, self.stats, self.gate)
        self.running = RunningJobs(self.acker)
        self._context = ExecutionContext(self.registry, get_serializer(serializer),
                                         self.threads, self.running.settle)
        self.watchdog = LoopWatchdog(lease, self.describe_running)
        self.scheduler = Scheduler(self.redis, self._scripts, self.queues,
                                   reap_interval=min(self.lease / 3, 5.0),
                                   max_deliveries=max_deliveries)

    # -- lifecycle ---------------------------------------------------------------------

    async def run(self, install_signal_handlers: bool = True) -> None:
        """Work until ``stop()`` (or SIGINT/SIGTERM, or, in burst mode, no work left)."""
        await ping(self.redis, self.url)
        await check_redis_version(self.redis)
        if install_signal_handlers:
            self._install_signal_handlers()
        heartbeat = Heartbeat(
            self.redis, self._scripts, name=self.name, queues=self.queues,
            script_keys=self._all_keys, lease=self.lease,
            concurrency=self.concurrency, stats=self.stats,
            inflight=self.acker.current_claims,
            running=lambda: len(self.running),
            gauges=self.gauges, gate=self.gate,
        )
        try:
            await heartbeat.register()
        except RedisError as exc:
            raise ConnectionFailed(f"Redis at {describe(self.redis)} refused to register this "
                                   f"worker: {exc}") from None
        logger.info("worker %s started: queues %s, concurrency %d, functions from %s",
                    self.name, ", ".join(q.name for q in self.queues), self.concurrency,
                    ", ".join(self.registry.modules) or "(explicit list)")
        loop = asyncio.get_running_loop()
        previous_factory = loop.get_task_factory()
        loop.set_task_factory(task_factory(previous_factory))
        acker = self._start(self.acker.run(), "aqueue-acker")
        background = [
            self._start(self.scheduler.run(), "aqueue-scheduler"),
            self._start(heartbeat.run(), "aqueue-heartbeat"),
            self._start(self.watchdog.run(), "aqueue-watchdog"),
        ]
        fetcher = self._start(self._fetch_loop(), "aqueue-fetcher")
        try:
            await self._stopping.wait()
        finally:
            if self._claiming:  # let a claim in flight land, so its jobs run (or go back)
                await asyncio.wait([fetcher], timeout=10)
            await cancel_and_wait([fetcher])
            await self.running.drain(self.grace)
            self.acker.close()
            await asyncio.wait([acker], timeout=FINAL_ACK_TIMEOUT)
            if self.acker.unwritten:
                logger.error("could not record the outcome of %d jobs (Redis unreachable); they "
                             "will run again when their lease expires", self.acker.unwritten)
            await cancel_and_wait([acker, *background])
            with contextlib.suppress(*TRANSIENT_ERRORS):
                await heartbeat.unregister()
            await self._scripts.close()
            if self._blocking is not None:
                await self._blocking.close()
            if self._owns_connection:
                await self.redis.aclose()
            loop.set_task_factory(previous_factory)
            if self.abandoned:
                logger.warning("%d jobs ignored their cancellation and are still running: %s",
                               self.abandoned, self.running.describe(self.running.abandoned))
            logger.info("worker %s stopped: %d processed, %d failed", self.name,
                        self.stats.processed, self.stats.failed)
        if self._crash is not None:
            raise WorkerCrashed(f"worker {self.name} stopped: {self._crash!r}") from self._crash

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

    def gauges(self) -> dict[str, int]:
        """Counts the heartbeat publishes besides the counters of ``stats``."""
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
                claimed = await self._claim(free)
                if not claimed:
                    if self.burst and self.acker.inflight:
                        await self.acker.all_acked.wait()  # then look again: retries may be due
                        continue
                    if self.burst and await self._burst_finished():
                        logger.info("burst mode: no work left")
                        self.stop()
                        return
                    await self._wait_for_marker()
                backoff.reset()
            except TRANSIENT_ERRORS as exc:
                await asyncio.sleep(backoff.log(logger, "claiming jobs", exc))

    async def _claim(self, count: int) -> list[Claimed]:
        now = time.time()
        self._claims += 1
        self._claiming = True
        try:
            rows = await self._scripts.run("claim", self._all_keys, [
                count, repr(now), repr(now + self.lease), f"{self._claim_prefix}.{self._claims}"])
        finally:
            self._claiming = False
        claimed = []
        for index, raw_id, token, fields in rows:
            job = Claimed(index, self.queues[index].name, raw_id.decode(), token.decode(),
                          dict(zip(fields[::2], fields[1::2], strict=True)))
            claimed.append(job)
            self.acker.track(job)
            # Not through the loop's task factory (set by run()): it only guards the
            # tasks that jobs create, and costs a Python call per task.
            self.running.add(job, asyncio.Task(self._process(job)))
        return claimed

    async def _wait_for_marker(self) -> None:
        """Block until a queue has jobs (or a few seconds pass), on a connection of its own."""
        if self._blocking is not None:
            await self._blocking.call("BZPOPMIN", *self._markers, self._idle_block)
        else:
            await self.redis.bzpopmin(self._markers, timeout=self._idle_block)

    async def _burst_finished(self) -> bool:
        """Nothing queued or running, and nothing due within ``BURST_HORIZON`` seconds."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for q in self.queues:
                pipe.llen(q.queued)
                pipe.zcard(q.started)
                pipe.zrangebyscore(q.scheduled, "-inf", time.time() + BURST_HORIZON, 0, 1)
            replies = await pipe.execute()
        return not any(replies)

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
            self.running.finish(claimed, ack)

    def describe_running(self) -> str:
        return self.running.describe(self.running.tasks)


async def cancel_and_wait(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel tasks and wait for them to end, cancelling again if a library swallowed the
    first cancellation (seen with redis-py while a connection is being set up)."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.5)
