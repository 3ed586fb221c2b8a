"""The jobs a worker is running: their slots, the one outcome each gets, and the runs
that outlive their outcome.

A job's outcome is settled once, and usually when its task ends. It can also be settled
while the task still runs: at the job's deadline (``executor``), or when a job ignores
the cancellation that hands it back at shutdown. Such a run is *abandoned*: its slot is
free, what it does later is not recorded, and the worker no longer waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aqueue.events import Event, EventBus
from aqueue.log_text import clip
from aqueue.worker.acker import Acker
from aqueue.worker.executor import Ack, Claimed, handback

logger = logging.getLogger("aqueue.worker")

CANCEL_WAIT = 0.5  # how long a cancelled job gets to end before it is abandoned
IGNORED_CANCEL_AFTER = 1.0  # a job still running this long after its outcome: warn


class RunningJobs:
    def __init__(self, acker: Acker, events: EventBus | None = None, worker: str = "") -> None:
        self.acker = acker
        self.events = events or EventBus()
        self.worker = worker
        self.tasks: dict[asyncio.Task[None], Claimed] = {}
        self.abandoned: dict[asyncio.Task[None], Claimed] = {}
        self.slot_free = asyncio.Event()
        self.hurry = asyncio.Event()  # stop waiting for running jobs: see hand_back_now()

    def __len__(self) -> int:
        return len(self.tasks)

    def add(self, claimed: Claimed, task: asyncio.Task[None]) -> None:
        claimed.task = task
        self.tasks[task] = claimed

    def finish(self, claimed: Claimed, ack: Ack) -> None:
        """From the job's own task, as it ends: hand its outcome (or handback) to the
        acker, unless one was settled already, and free its slot."""
        if claimed.settled:
            return
        claimed.settled = True
        if claimed.task is not None and self.tasks.pop(claimed.task, None) is not None:
            self.slot_free.set()  # (free_slot(), inlined: this runs for every job)
        self.acker.add(ack)
        if self.events:
            self.events.emit(Event(
                "job.ran", self.worker, claimed.queue_name, claimed.id, claimed.func,
                claimed.attempt, ack.outcome,
                time.monotonic() - claimed.started if claimed.started else None, data={
                    "exc_type": _field(ack.fields, "exc_type"),
                    "exc_message": _field(ack.fields, "exc_message"),
                    "traceback": _field(ack.fields, "exc_traceback"),
                    "retry_in": ack.number if ack.outcome == "retry" else None,
                    "max_attempts": claimed.max_attempts}))

    def settle(self, claimed: Claimed, ack: Ack) -> None:
        """Like ``finish``, from outside the job's task (its deadline; a shutdown it
        ignores): the task, if it runs on, is abandoned."""
        if claimed.settled:
            return
        self.finish(claimed, ack)
        task = claimed.task
        if task is not None and not task.done() and task is not asyncio.current_task():
            self.abandoned[task] = claimed
            task.add_done_callback(self._abandoned_ended)
            asyncio.get_running_loop().call_later(IGNORED_CANCEL_AFTER, self._warn_ignored, task)

    def free_slot(self, claimed: Claimed) -> None:
        if claimed.task is not None and self.tasks.pop(claimed.task, None) is not None:
            self.slot_free.set()

    def hand_back_now(self) -> None:
        """Cancel every running job (each is handed back), and stop ``drain`` waiting."""
        self.hurry.set()
        for task in self.tasks:
            task.cancel()

    async def drain(self, grace: float) -> None:
        """Give running jobs ``grace`` seconds (cut short by ``hand_back_now``), then
        cancel them, and hand back those that ignore the cancellation without waiting."""
        if not self.tasks:
            return
        await self._wait(grace, until_hurried=True)
        if not self.tasks:
            return
        if not self.hurry.is_set():
            logger.warning("grace period over: handing %d running jobs back", len(self.tasks))
        for task in self.tasks:
            task.cancel()
        await self._wait(CANCEL_WAIT)
        for claimed in list(self.tasks.values()):
            logger.warning("job %s (%s) ignores its cancellation: handed back without "
                           "waiting for it", clip(claimed.id), clip(claimed.func or "?"))
            self.settle(claimed, handback(claimed))

    async def _wait(self, timeout: float, until_hurried: bool = False) -> None:
        deadline = time.monotonic() + timeout
        hurry = asyncio.ensure_future(self.hurry.wait())
        try:
            while self.tasks and (remaining := deadline - time.monotonic()) > 0:
                if until_hurried and hurry.done():
                    return
                await asyncio.wait([*self.tasks, *([hurry] if until_hurried else [])],
                                   timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        finally:
            hurry.cancel()

    def _abandoned_ended(self, task: asyncio.Task[None]) -> None:
        self.abandoned.pop(task, None)

    def _warn_ignored(self, task: asyncio.Task[None]) -> None:
        claimed = self.abandoned.get(task)
        if claimed is not None and not task.done():
            logger.warning("job %s (%s) ignores its cancellation: it still runs %g s after its "
                           "outcome was recorded; the worker no longer waits for it, and what it "
                           "does now is not recorded (%d such jobs running)", clip(claimed.id),
                           clip(claimed.func or "?"), IGNORED_CANCEL_AFTER, len(self.abandoned))

    @staticmethod
    def describe(jobs: dict[asyncio.Task[None], Claimed], most: int = 5) -> str:
        listed = list(jobs.values())[:most]
        names = ", ".join(f"{clip(j.id)} ({clip(j.func or '?')})" for j in listed)
        more = len(jobs) - len(listed)
        return names + (f" and {more} more" if more > 0 else "") if names else "nothing"


def _field(fields: list[Any], name: str) -> Any:
    for i in range(0, len(fields) - 1, 2):
        if fields[i] == name:
            return fields[i + 1]
    return None
