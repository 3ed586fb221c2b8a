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
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import anyio
from redis.asyncio import Redis

from aqueue.backoff import TRANSIENT_ERRORS, Backoff
from aqueue.connection import connect, max_block, ping
from aqueue.executor import Ack, Claimed, ExecutionContext, execute, fail, handback
from aqueue.functions import FunctionRegistry
from aqueue.heartbeat import Heartbeat, LoopWatchdog, WorkerStats
from aqueue.keys import QueueKeys
from aqueue.resp import RespConnection
from aqueue.scheduler import Scheduler
from aqueue.scripts import Scripts
from aqueue.serializers import Serializer, get_serializer

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
        self._context = ExecutionContext(
            self.registry, get_serializer(serializer),
            anyio.CapacityLimiter(threads or min(concurrency, 40)),
        )
        self._scripts = Scripts(self.redis)
        self._blocking = RespConnection.like(self.redis)
        self._all_keys = [key for q in self.queues for key in q.script_keys()]
        self._markers = [q.marker for q in self.queues]
        self._idle_block = max_block(self.redis, 1.0 if burst else IDLE_BLOCK)
        self._running: dict[asyncio.Task[None], Claimed] = {}
        self._inflight: dict[str, Claimed] = {}  # claimed and not yet acknowledged
        self._acks: list[Ack] = []
        self._ack_ready = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._all_acked = asyncio.Event()  # set while no claimed job awaits its ack
        self._stopping = asyncio.Event()
        self._signals = 0
        self.watchdog = LoopWatchdog(lease, self.describe_running)
        self.scheduler = Scheduler(self.redis, self._scripts, self.queues,
                                   reap_interval=min(self.lease / 3, 5.0),
                                   max_deliveries=max_deliveries)

    # -- lifecycle ---------------------------------------------------------------------

    async def run(self, install_signal_handlers: bool = True) -> None:
        """Work until ``stop()`` (or SIGINT/SIGTERM, or, in burst mode, no work left)."""
        await ping(self.redis, self.url)
        if install_signal_handlers:
            self._install_signal_handlers()
        heartbeat = Heartbeat(
            self.redis, name=self.name, queues=self.queues, lease=self.lease,
            concurrency=self.concurrency, stats=self.stats, inflight=self._inflight_by_queue,
            running=lambda: len(self._running),
        )
        await heartbeat.beat()
        logger.info("worker %s started: queues %s, concurrency %d, functions from %s",
                    self.name, ", ".join(q.name for q in self.queues), self.concurrency,
                    ", ".join(self.registry.modules) or "(explicit list)")
        background = [
            asyncio.create_task(self.scheduler.run(), name="aqueue-scheduler"),
            asyncio.create_task(heartbeat.run(), name="aqueue-heartbeat"),
            asyncio.create_task(self._ack_loop(), name="aqueue-acker"),
            asyncio.create_task(self.watchdog.run(), name="aqueue-watchdog"),
        ]
        fetcher = asyncio.create_task(self._fetch_loop(), name="aqueue-fetcher")
        try:
            await self._stopping.wait()
        finally:
            await cancel_and_wait([fetcher])
            await self._drain_running()
            await cancel_and_wait([background.pop(2)])  # the acker; the rest is written below
            await self._write_remaining_acks()
            await cancel_and_wait(background)
            with contextlib.suppress(*TRANSIENT_ERRORS):
                await heartbeat.unregister()
            await self._scripts.close()
            if self._blocking is not None:
                await self._blocking.close()
            if self._owns_connection:
                await self.redis.aclose()
            logger.info("worker %s stopped: %d processed, %d failed", self.name,
                        self.stats.processed, self.stats.failed)

    def stop(self) -> None:
        """Stop claiming; running jobs get ``grace`` seconds to finish."""
        self._stopping.set()

    def stop_now(self) -> None:
        """Stop claiming and hand running jobs back to their queues at once."""
        self.grace = 0
        self._stopping.set()
        for task in self._running:
            task.cancel()

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
            logger.info("%s: finishing %d running jobs (up to %.0f s); again to stop now",
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
        backoff = Backoff()
        while not self._stopping.is_set():
            free = self.concurrency - len(self._running)
            if free <= 0:
                self._slot_free.clear()
                await self._slot_free.wait()
                continue
            try:
                claimed = await self._claim(free)
                if not claimed:
                    if self.burst and self._inflight:
                        await self._all_acked.wait()  # then look again: retries may be due
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
        rows = await self._scripts.run(
            "claim", self._all_keys, [count, repr(now), repr(now + self.lease), self.name])
        claimed = []
        for index, raw_id, token, fields in rows:
            job = Claimed(index, self.queues[index].name, raw_id.decode(), token.decode(),
                          dict(zip(fields[::2], fields[1::2], strict=True)))
            claimed.append(job)
            self._inflight[job.id] = job
            self._all_acked.clear()
            task = asyncio.create_task(self._process(job))
            self._running[task] = job
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
        task = asyncio.current_task()
        try:
            ack = await execute(claimed, self._context)
        except asyncio.CancelledError:
            self._queue_ack(handback(claimed))
            raise
        except Exception as exc:  # a bug in aqueue: fail the job loudly, keep the worker
            logger.exception("job %s: internal error", claimed.id)
            ack = fail(claimed, None, "InternalError", f"aqueue could not run the job: {exc!r}")
        finally:
            self._running.pop(task, None)  # type: ignore[arg-type]
            self._slot_free.set()
        self._queue_ack(ack)
        if ack.outcome == "failed":
            logger.error("job %s (%s) failed: %s", claimed.id, claimed.func or "?",
                         _field(ack.fields, "exc_message"))

    def describe_running(self) -> str:
        jobs = list(self._running.values())[:5]
        names = ", ".join(f"{j.id} ({j.func or '?'})" for j in jobs)
        more = len(self._running) - len(jobs)
        return names + (f" and {more} more" if more > 0 else "") if names else "nothing"

    def _inflight_by_queue(self) -> dict[int, list[str]]:
        grouped: dict[int, list[str]] = {}
        for job in self._inflight.values():
            grouped.setdefault(job.queue_index, []).append(job.id)
        return grouped

    # -- acknowledging -----------------------------------------------------------------

    def _queue_ack(self, ack: Ack) -> None:
        self._acks.append(ack)
        self._ack_ready.set()

    async def _ack_loop(self) -> None:
        backoff = Backoff()
        while True:
            if not self._acks:
                self._ack_ready.clear()
                await self._ack_ready.wait()
            try:
                await self._write_pending_acks()
                backoff.reset()
            except TRANSIENT_ERRORS as exc:
                await asyncio.sleep(backoff.log(logger, "writing job results", exc))

    async def _write_pending_acks(self) -> None:
        batch, self._acks = self._acks, []
        try:
            await self._write_acks(batch)
        except BaseException:
            self._acks[:0] = batch  # keep them, in order, for the next try
            raise

    async def _write_remaining_acks(self) -> None:
        """At shutdown: write what is left, retrying while Redis is away, for a while."""
        backoff = Backoff()
        deadline = time.monotonic() + FINAL_ACK_TIMEOUT
        while self._acks and time.monotonic() < deadline:
            try:
                await self._write_pending_acks()
            except TRANSIENT_ERRORS as exc:
                await asyncio.sleep(backoff.log(logger, "writing the last job results", exc))
        if self._acks:
            logger.error("could not record the outcome of %d jobs (Redis unreachable); they "
                         "will run again when their lease expires", len(self._acks))

    async def _write_acks(self, batch: list[Ack]) -> None:
        argv: list[Any] = [repr(time.time())]
        for ack in batch:
            job = ack.claimed
            argv += [job.queue_index, job.id, job.token, ack.outcome, ack.number,
                     len(ack.fields) // 2, *ack.fields]
        rejected = await self._scripts.run("ack", self._all_keys, argv)
        rejected_ids = {r.decode() for r in rejected}
        for ack in batch:
            self._inflight.pop(ack.claimed.id, None)
            if not self._inflight:
                self._all_acked.set()
            if ack.claimed.id in rejected_ids:
                self.stats.rejected += 1
                logger.warning("job %s: result discarded, the job's lease was lost and it was "
                               "handed to another worker", ack.claimed.id)
            elif ack.outcome == "finished":
                self.stats.processed += 1
            elif ack.outcome == "failed":
                self.stats.failed += 1
            elif ack.outcome == "retry":
                self.stats.retried += 1


async def cancel_and_wait(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel tasks and wait for them to end, cancelling again if a library swallowed the
    first cancellation (seen with redis-py while a connection is being set up)."""
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
