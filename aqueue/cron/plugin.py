"""The cron plugin: every worker enqueues the due runs of the schedules in its queues.

There is no leader. Each worker looks at the schedules whose next tick has come (by
Redis's clock), works out the due ticks with ``aqueue.schedules`` (misfire policy,
limits, daylight saving), and asks ``cron_fire.lua`` to enqueue them; the script moves
the schedule on only from the state the worker read, and names each run after its tick,
so however many workers try, each tick is enqueued once. Between ticks the plugin sleeps
until the earliest next tick, and looks for schedules added at runtime every
``RESCAN`` seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from aqueue.cron.definition import CronJob, draft_of, from_unix, tick_id
from aqueue.flow.keys import cron_hash
from aqueue.plugins.base import PluginContext, repeat
from aqueue.schedules import Repeat
from aqueue.serializers import Serializer
from aqueue.store.keys import QueueKeys
from aqueue.store.store import Store

logger = logging.getLogger("aqueue.cron")
RESCAN = 5.0
Clock = Callable[[], datetime]


class CronPlugin:
    """Registers ``jobs`` (schedules declared in code) and fires every schedule of the
    worker's queues and theirs. ``clock`` replaces Redis's time (for tests)."""

    name = "cron"

    def __init__(self, jobs: Iterable[CronJob] = (), *, serializer: Serializer | None = None,
                 clock: Clock | None = None) -> None:
        self.jobs = list(jobs)
        names = [(j.queue, j.name) for j in self.jobs]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate:
            raise ValueError(f"two schedules named {duplicate[1]!r} in queue {duplicate[0]!r}")
        self.serializer = serializer
        self.clock = clock
        self.enqueued: list[str] = []  # ids this worker enqueued, for tests and logs

    def queues(self, context: PluginContext) -> list[QueueKeys]:
        keys = {k.name: k for k in context.queues}
        for job in self.jobs:
            keys.setdefault(job.queue, QueueKeys.for_queue(job.queue))
        return list(keys.values())

    async def register(self, store: Store) -> None:
        for job in self.jobs:
            record = job.record(self.serializer)
            fingerprint = record.pop("fingerprint")
            start = f"{self.clock().timestamp():.6f}" if self.clock else ""
            argv: list[Any] = [job.name, fingerprint, start]
            for name, value in record.items():
                argv += [name, value]
            outcome = await store.script("cron_register", QueueKeys.for_queue(job.queue)
                                         .script_keys(), argv, retry_sent=True)
            if outcome != b"same":
                logger.info("schedule %s (%s) in %s: %s", job.name, job.repeat.describe(),
                            job.queue, outcome.decode())

    async def run(self, context: PluginContext) -> None:
        queues = self.queues(context)
        registered = False

        async def step() -> float:
            nonlocal registered
            if not registered:
                await self.register(context.store)
                registered = True
            return await self.tick(context.store, queues)

        await repeat(step, logger, "enqueueing scheduled runs")

    async def tick(self, store: Store, queues: Sequence[QueueKeys]) -> float:
        """Fire what is due in ``queues``; returns seconds until the next look."""
        delay = RESCAN
        for keys in queues:
            now_raw, names, next_score = await store.script(
                "cron_control", keys.script_keys(), ["due"])
            now = self._now(float(now_raw))
            for raw in names:
                await self._fire(store, keys, raw.decode(), now)
            if names:
                delay = 0.0  # look again at once: the schedules fired have a new next tick
            elif next_score is not None:
                delay = min(delay, max(0.0, float(next_score) - float(now_raw)))
        return delay

    def _now(self, redis_now: float) -> datetime:
        return self.clock() if self.clock else datetime.fromtimestamp(redis_now, UTC)

    async def _fire(self, store: Store, keys: QueueKeys, name: str, now: datetime) -> None:
        for _ in range(3):  # another worker may move the schedule on meanwhile
            raw = await store.call("HGETALL", cron_hash(keys, name), key=keys.queued)
            fields = {raw[i].decode(): raw[i + 1] for i in range(0, len(raw), 2)}
            if not fields or "paused" in fields:
                return
            repeat_def = Repeat.from_json(fields["repeat"])
            last_raw = fields.get("last_tick", b"")
            runs = int(fields.get("runs", b"0"))
            due = repeat_def.due(from_unix(last_raw), now, runs)
            drafts = [draft_of(fields, tick_id(name, tick)) for tick in due.ticks]
            argv: list[Any] = [
                name, keys.name, fields["fingerprint"], last_raw,
                f"{due.ticks[-1].timestamp():.6f}" if due.ticks else last_raw,
                runs + len(due.ticks),
                f"{due.next_tick.timestamp():.6f}" if due.next_tick else "", len(drafts)]
            for draft in drafts:
                wire = draft.wire()
                argv += [wire[0], *wire[5:]]
            ok, result = await store.script("cron_fire", keys.script_keys(), argv)
            if ok:
                for job_id in result:
                    self.enqueued.append(job_id.decode())
                    logger.info("schedule %s in %s: enqueued %s", name, keys.name,
                                job_id.decode())
                return
            if result == b"paused":
                return
