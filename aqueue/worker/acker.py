"""Acknowledgements: the outcomes of finished jobs, written in one script call per batch.

The acker also owns the worker's in-flight set (claimed jobs whose outcome is not yet
written), which the heartbeat renews leases for. It is keyed by claim token, not job id:
after a stall a job can be in flight twice (the stale run, and the run of the claim that
took it back), and rejecting the stale outcome must not forget the new claim. While Redis
refuses to record outcomes (OOM...), the acker keeps them and holds the fetcher off
claiming more (``ClaimGate``) until a write goes through.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from redis.exceptions import ResponseError

from aqueue.store.scripts import Scripts
from aqueue.worker.backoff import TRANSIENT_ERRORS, Backoff, is_request_error
from aqueue.worker.claim_gate import WRITES_QUIET, WRITES_REFUSED, ClaimGate
from aqueue.worker.executor import Ack, Claimed
from aqueue.worker.heartbeat import WorkerStats
from aqueue.worker.log_text import clip, clip_message

logger = logging.getLogger("aqueue.worker")


class Acker:
    def __init__(self, scripts: Scripts, keys: list[str], stats: WorkerStats,
                 gate: ClaimGate) -> None:
        self.scripts = scripts
        self.keys = keys
        self.stats = stats
        self.gate = gate
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
            batch = self._take_batch()
            try:
                try:
                    recorded = await self._write(batch)
                except TRANSIENT_ERRORS as exc:
                    if not is_request_error(exc):
                        self._pending[:0] = batch  # not written: keep them, in order
                        raise
                    recorded = await self._write_one_by_one(batch)  # keeps what it cannot
                backoff.reset()
                if recorded:  # (a batch of rejected outcomes writes nothing: it proves little)
                    self.gate.reopen(WRITES_REFUSED, logging.INFO, WRITES_QUIET)
            except TRANSIENT_ERRORS as exc:
                if isinstance(exc, ResponseError):  # refused (OOM...), not unreachable
                    self.gate.close(WRITES_REFUSED, str(exc), logging.WARNING)
                await asyncio.sleep(backoff.log(logger, f"writing {len(batch)} job outcomes",
                                                exc))

    def _take_batch(self) -> list[Ack]:
        """The pending acks, at most one per job: the script names rejected outcomes by
        job id, so a stale and a current outcome of one job go in different calls."""
        batch: list[Ack] = []
        later: list[Ack] = []
        ids: set[str] = set()
        for ack in self._pending:
            if ack.claimed.id in ids:
                later.append(ack)
            else:
                ids.add(ack.claimed.id)
                batch.append(ack)
        self._pending = later
        return batch

    async def _write_one_by_one(self, batch: list[Ack]) -> int:
        """A batch Redis refused: write its acks alone, so one bad job cannot block the rest.
        An ack refused on its own is dropped; its job runs again once its lease expires
        (and fails after max deliveries). Returns how many outcomes were recorded."""
        recorded = 0
        for index, ack in enumerate(batch):
            try:
                recorded += await self._write([ack])
            except TRANSIENT_ERRORS as exc:
                if not is_request_error(exc):
                    self._pending[:0] = batch[index:]
                    raise
                self.inflight.pop(ack.claimed.token, None)
                logger.error("job %s: Redis refused its outcome (%s); it will run again when "
                             "its lease expires", clip(ack.claimed.id), clip_message(exc))
        if not self.inflight:
            self.all_acked.set()
        return recorded

    def close(self) -> None:
        """Finish: write what is pending, then return from ``run()``."""
        self._closing = True
        self._ready.set()

    @property
    def unwritten(self) -> int:
        return len(self._pending)

    async def _write(self, batch: list[Ack]) -> int:
        """Write ``batch`` (one ack per job); returns how many outcomes were recorded."""
        argv: list[Any] = [repr(time.time())]
        for ack in batch:
            job = ack.claimed
            argv += [job.queue_index, job.id, job.token, ack.outcome, ack.number,
                     len(ack.fields) // 2, *ack.fields]
        rejected = {r.decode() for r in await self.scripts.run("ack", self.keys, argv)}
        for ack in batch:
            self.inflight.pop(ack.claimed.token, None)
            if ack.claimed.id in rejected:
                self.stats.rejected += 1
                logger.warning("job %s: outcome discarded: its lease expired and the job was "
                               "handed back to the queue (this worker was stalled or cut off)",
                               clip(ack.claimed.id))
            elif ack.outcome == "finished":
                self.stats.processed += 1
            elif ack.outcome == "failed":
                self.stats.failed += 1
            elif ack.outcome == "retry":
                self.stats.retried += 1
        if not self.inflight:
            self.all_acked.set()
        return len(batch) - len(rejected)
