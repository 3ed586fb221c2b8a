"""The threads plain ``def`` jobs run in.

At most ``limit`` (``--threads``) run at once. Python cannot stop a thread, so a job past
its timeout keeps its thread, and its slot, until it returns: stuck threads are bounded
by the limit instead of piling up, and they are counted and named. A job's timeout
starts when it gets its thread. While def jobs wait for one, the worker claims nothing
(through the ``ClaimGate``); once every thread is stuck, it hands the waiting jobs back.
(It does not cap claims by the free threads otherwise: claimed jobs are mostly async in
mixed workloads, and smaller claim batches cost more than the rare wait.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio

from aqueue.log_text import clip
from aqueue.worker.claim_gate import THREADS_BUSY, THREADS_STUCK, ClaimGate

if TYPE_CHECKING:
    from aqueue.worker.executor import Claimed

logger = logging.getLogger("aqueue.worker")


class ThreadsStuck(Exception):
    """Every job thread is stuck: a def job cannot start in this worker now."""


class _Handoff:
    """Whether a job's thread took it up, or the job was given up on first (cancelled
    while anyio was handing it over), in which case the thread must not run it."""

    __slots__ = ("_lock", "_state")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = "pending"

    def take(self) -> bool:
        with self._lock:
            if self._state == "pending":
                self._state = "running"
            return self._state == "running"

    def drop(self) -> bool:
        """True if the thread never took the job up (and now never will)."""
        with self._lock:
            if self._state == "pending":
                self._state = "dropped"
            return self._state == "dropped"


class JobThreads:
    def __init__(self, limit: int, gate: ClaimGate) -> None:
        if limit < 1:
            raise ValueError(f"threads must be at least 1, got {limit}")
        self.limit = limit
        self.gate = gate
        self._slots = asyncio.Semaphore(limit)
        # Never the bottleneck (the slots are): anyio releases a token when the awaiting
        # task is cancelled, though the thread goes on.
        self._limiter = anyio.CapacityLimiter(limit)
        self.waiting: dict[str, Claimed] = {}  # by claim token, in arrival order
        self.running: dict[str, Claimed] = {}  # holding a thread
        self.stuck: dict[str, Claimed] = {}  # holding a thread past their recorded outcome

    async def run(self, claimed: Claimed, call: Callable[[], Any],
                  started: Callable[[], None]) -> Any:
        """Run ``call`` in a thread once one is free; ``started()`` is called when it
        has one. Raises ``ThreadsStuck`` if every thread is stuck."""
        await self._acquire(claimed)
        loop = asyncio.get_running_loop()
        handoff = _Handoff()
        token = claimed.token

        def in_thread() -> Any:
            if not handoff.take():
                return None  # given up before this thread got to it: never run it
            try:
                return call()
            finally:
                with contextlib.suppress(RuntimeError):  # the loop is closed: worker gone
                    loop.call_soon_threadsafe(self._returned, token)

        self.running[token] = claimed
        started()
        try:
            return await anyio.to_thread.run_sync(in_thread, limiter=self._limiter,
                                                  abandon_on_cancel=True)
        except BaseException:
            if handoff.drop():
                self._returned(token)
            raise

    async def _acquire(self, claimed: Claimed) -> None:
        if len(self.stuck) >= self.limit:
            raise ThreadsStuck
        if not self._slots.locked() and not self.waiting:
            await self._slots.acquire()
            return
        self.waiting[claimed.token] = claimed
        self.gate.close(THREADS_BUSY)
        try:
            await self._slots.acquire()
        finally:
            self.waiting.pop(claimed.token, None)
            if not self.waiting:
                self.gate.reopen(THREADS_BUSY)

    def mark_stuck(self, claimed: Claimed) -> None:
        """The job's outcome was recorded (its timeout passed) while its thread runs on."""
        if claimed.token not in self.running:
            return
        self.stuck[claimed.token] = claimed
        logger.warning(
            "job %s (%s): its thread is stuck: it runs past the job's timeout and Python "
            "cannot stop it, so it keeps one of the %d job threads (--threads) until it "
            "returns; %d stuck now: %s", clip(claimed.id), clip(claimed.func), self.limit,
            len(self.stuck), self.describe_stuck())
        if len(self.stuck) >= self.limit:
            self._all_stuck()

    def describe_stuck(self, most: int = 5) -> str:
        jobs = list(self.stuck.values())
        names = ", ".join(f"{clip(j.id)} ({clip(j.func)})" for j in jobs[:most])
        return names + (f" and {len(jobs) - most} more" if len(jobs) > most else "")

    def _all_stuck(self) -> None:
        self.gate.close(THREADS_STUCK, level=logging.ERROR, detail=(
            f"all {self.limit} job threads are stuck in jobs past their timeout, so plain def "
            f"jobs cannot start here until one returns; handing {len(self.waiting)} waiting "
            "def jobs back. Fix the jobs that hang, and restart this worker"))
        for waiting in list(self.waiting.values()):
            if waiting.task is not None:
                waiting.task.cancel()  # the worker hands a cancelled job back

    def _returned(self, token: str) -> None:
        self.running.pop(token, None)
        was_stuck = self.stuck.pop(token, None)
        self._slots.release()
        if was_stuck is not None:
            logger.info("job %s (%s): its stuck thread returned; %d stuck now",
                        clip(was_stuck.id), clip(was_stuck.func), len(self.stuck))
            self.gate.reopen(THREADS_STUCK, level=logging.INFO)
