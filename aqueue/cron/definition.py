"""``CronJob``: a job enqueued on a schedule, declared in code; and how it is stored.

The time logic (cron expressions, intervals, daylight saving, misfire policies, repeat
limits) is ``aqueue.schedules``; this module ties a schedule to a function call and a
queue, and turns it into the fields of its Redis hash (``aq:{Q}:cron:<name>``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aqueue.client.encoding import Draft, FunctionRef, JobEncoder
from aqueue.functions import check_arguments, function_name
from aqueue.options import RQ_NAMES, QueueDefaults, resolve
from aqueue.retry import Retry
from aqueue.schedules import Cron, Every, Misfire, Repeat, Schedule
from aqueue.schedules.misfire import DEFAULT_MISFIRE
from aqueue.serializers import Serializer, get_serializer
from aqueue.store.keys import check_name

REFUSED_OPTIONS = {
    "job_id": "a scheduled run's id is made from the schedule's name and tick",
    "unique": "each tick is already enqueued exactly once",
    "debounce": "a scheduled run is not debounced",
}


@dataclass(frozen=True)
class CronJob:
    """``func(*args, **kwargs)`` enqueued to ``queue`` at every tick of ``schedule``.

    ``schedule``: a cron expression (``"*/5 * * * *"``, or six fields with seconds first,
    or ``@daily``...) read in ``timezone``, an interval (seconds or a ``timedelta``), or a
    ``Cron``/``Every``. ``misfire``: what to do with ticks missed while no worker ran
    (default: one run for all of them). ``limit``: run at most this many times;
    ``until``: no tick after this aware datetime. ``options``: enqueue options of each
    run (``job_timeout``, ``retry``, ``priority``, ``expires``...). A bad expression,
    timezone or option raises here, when the schedule is declared.
    """

    name: str
    func: FunctionRef
    schedule: Schedule | str | float | timedelta
    args: Sequence[Any] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    queue: str = "default"
    timezone: str = "UTC"
    misfire: Misfire = DEFAULT_MISFIRE
    limit: int | None = None
    until: datetime | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    repeat: Repeat = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_name("schedule name", self.name)
        check_name("queue name", self.queue)
        schedule = self.schedule
        if isinstance(schedule, str):
            try:
                schedule = Cron(schedule, self.timezone)
            except (ValueError, TypeError) as exc:
                raise type(exc)(f"schedule {self.name!r}: {exc}") from None
        elif isinstance(schedule, int | float | timedelta) and not isinstance(schedule, bool):
            schedule = Every(schedule)
        elif not isinstance(schedule, Schedule):
            raise TypeError(f"schedule {self.name!r}: give a cron expression, an interval in "
                            f"seconds or a timedelta, or a Cron/Every; got {schedule!r}")
        for name, why in REFUSED_OPTIONS.items():
            if name in self.options:
                raise ValueError(f"schedule {self.name!r}: option {name!r} does not apply "
                                 f"({why})")
        object.__setattr__(self, "repeat", Repeat(schedule, self.misfire, self.limit,
                                                  self.until))
        resolve(dict(self.options), QueueDefaults())  # a bad option fails here
        name = function_name(self.func)
        if not isinstance(self.func, str):
            check_arguments(self.func, name, list(self.args), dict(self.kwargs), RQ_NAMES)

    def record(self, serializer: Serializer | str | None = None) -> dict[str, str | bytes]:
        """The definition's fields for ``scripts/cron_register.lua``."""
        encoder = JobEncoder(self.queue, get_serializer(serializer), QueueDefaults())
        draft = encoder.draft(self.func, list(self.args), dict(self.kwargs), dict(self.options))
        options = _options_json(self.options)
        fingerprint = _digest([self.repeat.fingerprint(), draft.func, draft.args.hex(),
                               draft.kwargs.hex(), options])
        return {"func": draft.func, "args": draft.args, "kwargs": draft.kwargs,
                "repeat": self.repeat.to_json(), "options": options,
                "fingerprint": fingerprint, "describe": self.repeat.describe()}


def tick_id(name: str, tick: datetime) -> str:
    """The job id of one tick's run: the same on every worker, so a tick runs once."""
    text = f"{tick.timestamp():.3f}".rstrip("0").rstrip(".")
    return f"cron.{name}.{text}"


def draft_of(fields: Mapping[str, bytes], job_id: str) -> Draft:
    """A run of a stored schedule, ready for the enqueue scripts."""
    options = json.loads(fields.get("options", b"{}"))
    if "retry" in options:
        options["retry"] = Retry.from_json(options["retry"])
    return Draft(id=job_id, func=fields["func"].decode(), args=fields.get("args", b"[]"),
                 kwargs=fields.get("kwargs", b"{}"),
                 options=resolve(options, QueueDefaults()), nonce=os.urandom(8).hex(),
                 due_mode="", due=0.0)


def next_runs(repeat: Repeat, last_tick: datetime | None, runs: int, now: datetime,
              n: int = 3) -> list[datetime]:
    """The next ``n`` ticks after ``now`` (and after ``last_tick``), within the limits."""
    start = now if last_tick is None else max(now, last_tick)
    if repeat.limit is not None:
        n = min(n, max(0, repeat.limit - runs))
    ticks = repeat.schedule.upcoming(start, n)
    return [t for t in ticks if repeat.until is None or t <= repeat.until]


def from_unix(value: bytes | str | None) -> datetime | None:
    if value in (None, b"", ""):
        return None
    return datetime.fromtimestamp(float(value), UTC)


def _options_json(options: Mapping[str, Any]) -> str:
    plain: dict[str, Any] = {}
    for name, value in options.items():
        if isinstance(value, Retry):
            value = value.to_json()
        elif isinstance(value, timedelta):
            value = value.total_seconds()
        elif isinstance(value, datetime):
            raise ValueError(f"option {name!r} of a schedule takes seconds, not a datetime "
                             "(every run would get the same instant)")
        plain[name] = value
    return json.dumps(plain, sort_keys=True, separators=(",", ":"))


def _digest(parts: list[str]) -> str:
    import hashlib

    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]
