"""Acknowledgements: the outcomes of finished jobs, written in one script call per batch.

The acker also owns the worker's in-flight set (claimed jobs whose outcome is not yet
written), which the heartbeat renews leases for.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aqueue.store.scripts import Scripts
from aqueue.worker.backoff import TRANSIENT_ERRORS, Backoff, is_request_error
from aqueue.worker.executor import Ack, Claimed
from aqueue.worker.heartbeat import WorkerStats

logger = logging.getLogger("aqueue.worker")


class Acker:
    def __init__(self, scripts: Scripts, keys: list[str], stats: WorkerStats) -> None:
        self.scripts = scripts
        self.keys = keys
        self.stats = stats
        self.inflight: dict[str, Claimed] = {}
        self.all_acked = asyncio.Event()  # set while no claimed job awaits its outcome
        self.all_acked.set()
        self._pending: list[Ack] = []
        self._ready = asyncio.Event()
        self._closing = False

    def track(self, job: Claimed) -> None:
        """A job was claimed: it is in flight until its ack is written."""
        self.inflight[job.id] = job
        self.all_acked.clear()

    def add(self, ack: Ack) -> None:
        self._pending.append(ack)
        self._ready.set()

    async def run(self) -> None:
        """Write acks as they come (each write takes all that queued up meanwhile), until
        ``close()`` and nothing is left; while Redis is away, keep them and retry."""
        backoff = Backoff()
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._ready.clear()
                await self._ready.wait()
                continue
            batch, self._pending = self._pending, []
            try:
                try:
                    await self._write(batch)
                except TRANSIENT_ERRORS as exc:
                    if not is_request_error(exc):
                        self._pending[:0] = batch  # not written: keep them, in order
                        raise
                    await self._write_one_by_one(batch)  # keeps what it could not write
                backoff.reset()
            except TRANSIENT_ERRORS as exc:
                await asyncio.sleep(backoff.log(logger, f"writing {len(batch)} job outcomes",
                                                exc))

    async def _write_one_by_one(self, batch: list[Ack]) -> None:
        """A batch Redis refused: write its acks alone, so one bad job cannot block the rest.
        An ack refused on its own is dropped; its job runs again once its lease expires
        (and fails after max deliveries)."""
        for index, ack in enumerate(batch):
            try:
                await self._write([ack])
            except TRANSIENT_ERRORS as exc:
                if not is_request_error(exc):
                    self._pending[:0] = batch[index:]
                    raise
                self.inflight.pop(ack.claimed.id, None)
                logger.error("job %s: Redis refused its outcome (%s); it will run again when "
                             "its lease expires", ack.claimed.id, exc)
        if not self.inflight:
            self.all_acked.set()

    def close(self) -> None:
        """Finish: write what is pending, then return from ``run()``."""
        self._closing = True
        self._ready.set()

    @property
    def unwritten(self) -> int:
        return len(self._pending)

    async def _write(self, batch: list[Ack]) -> None:
        argv: list[Any] = [repr(time.time())]
        for ack in batch:
            job = ack.claimed
            argv += [job.queue_index, job.id, job.token, ack.outcome, ack.number,
                     len(ack.fields) // 2, *ack.fields]
        rejected = {r.decode() for r in await self.scripts.run("ack", self.keys, argv)}
        for ack in batch:
            self.inflight.pop(ack.claimed.id, None)
            if ack.claimed.id in rejected:
                self.stats.rejected += 1
                logger.warning("job %s: outcome discarded: its lease expired and the job was "
                               "handed back to the queue (this worker was stalled or cut off)",
                               ack.claimed.id)
            elif ack.outcome == "finished":
                self.stats.processed += 1
            elif ack.outcome == "failed":
                self.stats.failed += 1
            elif ack.outcome == "retry":
                self.stats.retried += 1
        if not self.inflight:
            self.all_acked.set()
