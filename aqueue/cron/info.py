"""``ScheduleInfo``: a stored schedule as the API, the CLI and the dashboard show it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from aqueue.cron.definition import from_unix, next_runs
from aqueue.schedules import Repeat


@dataclass(frozen=True, slots=True)
class ScheduleInfo:
    """One schedule: what it runs, when it ran last and when it runs next."""

    name: str
    queue: str
    func: str
    description: str  # e.g. "every 15 minutes (UTC), 10 times at most"
    paused: bool
    runs: int  # ticks enqueued so far
    last_tick: datetime | None  # the last tick handled (or when it was declared)
    last_run_at: datetime | None  # when a run was last enqueued (a tick or a trigger)
    last_job: str | None  # the id of that run
    next_runs: list[datetime]  # the next ticks (none while paused or once done)

    @classmethod
    def from_hash(cls, queue: str, fields: Mapping[str, bytes], now: float) -> ScheduleInfo:
        repeat = Repeat.from_json(fields["repeat"])
        paused = "paused" in fields
        runs = int(fields.get("runs", b"0"))
        last_tick = from_unix(fields.get("last_tick"))
        done = fields.get("next_tick") == b""
        upcoming = [] if paused or done else next_runs(
            repeat, last_tick, runs, datetime.fromtimestamp(now, UTC))
        last_job = fields.get("last_job")
        return cls(name=fields["name"].decode(), queue=queue, func=fields["func"].decode(),
                   description=repeat.describe(), paused=paused, runs=runs,
                   last_tick=last_tick, last_run_at=from_unix(fields.get("last_run_at")),
                   last_job=last_job.decode() if last_job else None, next_runs=upcoming)
