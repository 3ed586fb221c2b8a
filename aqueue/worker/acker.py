"""Acknowledgements: the outcomes of finished jobs, written in one script call per batch
(per queue group: per cluster slot).

The acker also owns the worker's in-flight set (claims whose outcome is not yet written),
keyed by claim token: after a stall the same job may be held twice, under the stale claim
and a new one, and rejecting the stale outcome must not forget the new claim. While Redis
refuses to record outcomes (OOM...), the acker keeps them and holds the fetcher off
claiming more (``ClaimGate``) until a write goes through.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from redis.exceptions import ResponseError

from aqueue.log_text import clip, clip_message
from aqueue.store.errors import TRANSIENT_ERRORS, is_request_error
from aqueue.store.store import Store
from aqueue.worker.backoff import Backoff
from aqueue.worker.claim_gate import WRITES_QUIET, WRITES_REFUSED, ClaimGate
from aqueue.worker.executor import Ack, Claimed
from aqueue.worker.groups import QueueGroup
from aqueue.worker.heartbeat import WorkerStats

logger = logging.getLogger("aqueue.worker")


class Acker:
    def __init__(self, store: Store, stats: WorkerStats, gate: ClaimGate,
                 on_written: Callable[[Ack, str], None] | None = None) -> None:
        self.store = store
        self.stats = stats
        self.gate = gate
        self.on_written = on_written
        self.on_outbox: Callable[[], None] | None = None  # an ack wrote dependents' messages
        self.inflight: dict[str, Claimed] = {}  # by claim token, in claim order
        self.all_acked = asyncio.Event()  # set while no claimed job awaits its outcome
        self.all_acked.set()
        self._pending: list[Ack] = []
        self._ready = asyncio.Event()
        self._closing = False

    def track(self, job: Claimed) -> None:
        """A job was claimed: it is in flight until its ack is written."""
        self.inflight[job.token] = job
        self.all_acked.clear()

    def current_claims(self) -> list[Claimed]:
        """The newest claim of each job in flight: the only one that can still hold it (an
        older claim of the same job lost it when the job was reaped and claimed again)."""
        return list({job.id: job for job in self.inflight.values()}.values())

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
            groups: dict[QueueGroup, list[Ack]] = {}
            for ack in batch:
                groups.setdefault(ack.claimed.group, []).append(ack)
            results = await asyncio.gather(*(self._write_group(g, acks)
                                             for g, acks in groups.items()),
                                           return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException)]
            for error in errors:
                if not isinstance(error, TRANSIENT_ERRORS):
                    raise error
            if sum(r for r in results if isinstance(r, int)):
                # (a batch of only rejected outcomes writes nothing: it proves little)
                self.gate.reopen(WRITES_REFUSED, logging.INFO, WRITES_QUIET)
            if errors:
                if any(isinstance(e, ResponseError) for e in errors):  # refused, not away
                    self.gate.close(WRITES_REFUSED, str(errors[0]), logging.WARNING)
                await asyncio.sleep(backoff.log(logger, f"writing {len(self._pending)} job "
                                                        "outcomes", errors[0]))
            else:
                backoff.reset()
            if not self.inflight:
                self.all_acked.set()

    async def _write_group(self, group: QueueGroup, acks: list[Ack]) -> int:
        """Write one group's acks; returns how many outcomes were recorded."""
        try:
            return await self._write(group, acks)
        except TRANSIENT_ERRORS as exc:
            if not is_request_error(exc):
                self._pending[:0] = acks  # not written: keep them, in order
                raise
            return await self._write_one_by_one(group, acks)

    async def _write_one_by_one(self, group: QueueGroup, batch: list[Ack]) -> int:
        """A batch Redis refused: write its acks alone, so one bad job cannot block the rest.
        An ack refused on its own is dropped; its job runs again once its lease expires
        (and fails after max deliveries)."""
        recorded = 0
        for index, ack in enumerate(batch):
            try:
                recorded += await self._write(group, [ack])
            except TRANSIENT_ERRORS as exc:
                if not is_request_error(exc):
                    self._pending[:0] = batch[index:]
                    raise
                self.inflight.pop(ack.claimed.token, None)
                logger.error("job %s: Redis refused its outcome (%s); it will run again when "
                             "its lease expires", clip(ack.claimed.id), clip_message(exc))
        return recorded

    def close(self) -> None:
        """Finish: write what is pending, then return from ``run()``."""
        self._closing = True
        self._ready.set()

    @property
    def unwritten(self) -> int:
        return len(self._pending)

    async def _write(self, group: QueueGroup, batch: list[Ack]) -> int:
        """Write ``batch``; returns how many outcomes were recorded."""
        argv: list[Any] = []
        for ack in batch:
            job = ack.claimed
            argv += [job.position, job.id, job.token, ack.outcome, ack.number,
                     len(ack.fields) // 2, *ack.fields]
        reply = await self.store.script("ack", group.keys, argv, retry_sent=True)
        rejected, gone = reply[0], reply[1]
        if len(reply) > 2 and reply[2] and self.on_outbox is not None:
            self.on_outbox()
        rejected_tokens = {r.decode() for r in rejected}
        gone_tokens = {g.decode() for g in gone}
        recorded = len(batch) - len(rejected_tokens) - len(gone_tokens)
        for ack in batch:
            claimed = ack.claimed
            self.inflight.pop(claimed.token, None)
            if claimed.token in gone_tokens:
                logger.error("job %s no longer exists in Redis (was Redis restarted without "
                             "persistence, or flushed?); its outcome (%s) was dropped",
                             clip(claimed.id), ack.outcome)
                self._written(ack, "gone")
            elif claimed.token in rejected_tokens:
                self.stats.rejected += 1
                logger.warning("job %s: outcome discarded: it was canceled while it ran, or "
                               "its lease expired and the job was handed back to the queue "
                               "(this worker was stalled or cut off)", clip(claimed.id))
                self._written(ack, "rejected")
            else:
                if ack.outcome == "finished":
                    self.stats.processed += 1
                elif ack.outcome == "failed":
                    self.stats.failed += 1
                elif ack.outcome == "retry":
                    self.stats.retried += 1
                self._written(ack, ack.outcome)
        return recorded

    def _written(self, ack: Ack, what: str) -> None:
        if self.on_written is not None:
            self.on_written(ack, what)
