"""Producer-side operations on schedules, written once for ``AsyncQueue`` and ``Queue``
(generators of Redis steps, like ``aqueue.client.ops``)."""

from __future__ import annotations

import os
from typing import Any

from aqueue.client.ops import Call, Op, QueueOps, Script
from aqueue.cron.definition import CronJob, draft_of
from aqueue.cron.info import ScheduleInfo
from aqueue.errors import NoSuchJobError
from aqueue.flow.keys import cron_hash, cron_index
from aqueue.serializers import Serializer


class NoSuchSchedule(NoSuchJobError):
    """No schedule of that name in the queue."""


class CronOps:
    def __init__(self, ops: QueueOps) -> None:
        self.ops = ops
        self.keys = ops.keys

    def add(self, job: CronJob, serializer: Serializer) -> Op[str]:
        if job.queue != self.keys.name:
            raise ValueError(f"schedule {job.name!r} is for queue {job.queue!r}, not "
                             f"{self.keys.name!r}")
        record = job.record(serializer)
        argv: list[Any] = [job.name, record.pop("fingerprint"), ""]
        for name, value in record.items():
            argv += [name, value]
        outcome = yield Script("cron_register", self.ops.block, argv)
        return str(outcome.decode())

    def list(self) -> Op[list[ScheduleInfo]]:
        names = yield Call(("ZRANGE", cron_index(self.keys), 0, -1), self.keys.queued)
        infos = []
        for raw in names:
            try:
                infos.append((yield from self.get(raw.decode())))
            except NoSuchSchedule:  # removed meanwhile
                continue
        return infos

    def get(self, name: str) -> Op[ScheduleInfo]:
        fields = yield from self._fields(name)
        now = yield Call(("TIME",), self.keys.queued)
        return ScheduleInfo.from_hash(self.keys.name, fields,
                                      int(now[0]) + int(now[1]) / 1_000_000)

    def control(self, action: str, name: str) -> Op[bool]:
        found = yield Script("cron_control", self.ops.block, [action, name])
        if not found:
            raise self._missing(name)
        return True

    def trigger(self, name: str) -> Op[str]:
        """Enqueue a run now, outside the schedule's ticks; returns its job id."""
        fields = yield from self._fields(name)
        draft = draft_of(fields, f"cron.{name}.now.{os.urandom(4).hex()}")
        yield from self.ops.enqueue([draft])
        yield Script("cron_control", self.ops.block, ["ran", name, draft.id])
        return draft.id

    def _fields(self, name: str) -> Op[dict[str, bytes]]:
        raw = yield Call(("HGETALL", cron_hash(self.keys, name)), self.keys.queued)
        if not raw:
            raise self._missing(name)
        return {raw[i].decode(): raw[i + 1] for i in range(0, len(raw), 2)}

    def _missing(self, name: str) -> NoSuchSchedule:
        return NoSuchSchedule(f"no schedule {name!r} in queue {self.keys.name!r}")
