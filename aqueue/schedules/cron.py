"""``Cron``: ticks from a cron expression, evaluated in an IANA timezone."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from aqueue.schedules._instants import ONE_MICROSECOND, aware_utc, load_object
from aqueue.schedules.schedule import Schedule

# crontab(5)'s nicknames; @reboot has no instants and is refused.
ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

# (name, allowed values) of each field of a 6-field expression; a 5-field one has no seconds.
FIELDS = (
    ("second", (0, 59), "0-59"),
    ("minute", (0, 59), "0-59"),
    ("hour", (0, 23), "0-23"),
    ("day-of-month", (1, 31), "1-31 or L"),
    ("month", (1, 12), "1-12 or JAN-DEC"),
    ("day-of-week", (0, 7), "0-7 or SUN-SAT"),
)
_VALIDATION_START = datetime(2000, 1, 1)
_UTC_NAMES = frozenset({"UTC", "Etc/UTC"})
_STEP = re.compile(r"\*/(\d+)")


@dataclass(frozen=True, slots=True, init=False)
class Cron(Schedule):
    """Ticks when a cron expression matches the wall clock of ``timezone``.

    ``expression`` has the five standard fields (minute hour day-of-month month
    day-of-week), or six with seconds first (``"*/10 * * * * *"``: every 10 seconds), or
    is one of ``@hourly @daily @midnight @weekly @monthly @yearly @annually``.

    Daylight saving follows Debian's cron. A job whose minute and hour fields are both
    explicit (``"30 2 * * *"``) follows the wall clock: when the clocks spring forward over
    its time it runs once, at the first instant after the gap (03:00 local), and when they
    fall back it runs once, at the first of the two 02:30s. Any other job (``"0 * * * *"``,
    ``"*/15 * * * *"``) runs in real time: every real hour or quarter hour, none skipped
    and none doubled across either change. (Sidekiq Enterprise and Oban document no DST
    rule; Oban matches the local clock minute by minute, which skips a 02:30 job in the gap
    and runs it twice in the repeated hour.)
    """

    expression: str
    timezone: str = "UTC"
    _normalized: str = field(init=False, repr=False, compare=False)
    _zone: tzinfo = field(init=False, repr=False, compare=False)
    _wall_clock: bool = field(init=False, repr=False, compare=False)

    def __init__(self, expression: str, timezone: str = "UTC") -> None:
        zone = _zone(timezone)
        normalized = _normalize(expression)
        _validate(expression, normalized)
        fields = normalized.split()
        minute, hour = fields[-5], fields[-4]
        object.__setattr__(self, "expression", expression)
        object.__setattr__(self, "timezone", timezone)
        object.__setattr__(self, "_normalized", normalized)
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "_wall_clock", not (minute.startswith("*")
                                                     or hour.startswith("*")))

    def next_after(self, t: datetime) -> datetime:
        after = aware_utc(t, "t")
        local = after.astimezone(self._zone)
        if not self._wall_clock:
            return self._advance(CronSim(self._normalized, local), after).astimezone(UTC)
        # Walk the naive wall clock, then map each reading to a real instant; a reading
        # that maps to or before `after` (the earlier 02:30 of a repeated hour) is passed.
        ticks = CronSim(self._normalized, local.replace(tzinfo=None))
        while True:
            tick = _real_instant(self._advance(ticks, after), self._zone)
            if tick > after:
                return tick.astimezone(UTC)

    def last_at_or_before(self, t: datetime) -> datetime | None:
        upto = aware_utc(t, "t")
        # cronsim's reverse iteration yields ticks strictly before its start; start 1 µs
        # later (in real time, not on the local clock) to include a tick at `upto`.
        local = (upto + ONE_MICROSECOND).astimezone(self._zone)
        try:
            if not self._wall_clock:
                return next(CronSim(self._normalized, local, reverse=True)).astimezone(UTC)
            start = local.replace(tzinfo=None)
            if local.fold:  # in the second pass of a repeated hour: its ticks may be later
                start += _offset(local.replace(fold=0)) - _offset(local)
            for reading in CronSim(self._normalized, start, reverse=True):
                tick = _real_instant(reading, self._zone)
                if tick <= upto:
                    return tick.astimezone(UTC)
        except StopIteration:
            pass
        return None

    def describe(self) -> str:
        return f"{_describe(self._normalized)} ({self.timezone})"

    def to_dict(self) -> dict[str, Any]:
        return {"type": "cron", "expression": self.expression, "timezone": self.timezone}

    def normalized(self) -> dict[str, Any]:
        return {"type": "cron", "expression": self._normalized, "timezone": self.timezone}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cron:
        return cls(expression=data["expression"], timezone=data.get("timezone", "UTC"))

    @classmethod
    def from_json(cls, data: str | bytes) -> Cron:
        return cls.from_dict(load_object(data, "Cron"))

    def _advance(self, ticks: CronSim, after: datetime) -> datetime:
        try:
            return next(ticks)
        except StopIteration:
            raise ValueError(f"cron expression {self.expression!r} has no tick within 50 years "
                             f"after {after.isoformat()}") from None


def _zone(name: object) -> tzinfo:
    if not isinstance(name, str):
        raise TypeError(f"timezone must be an IANA name like 'Europe/Berlin', got {name!r}")
    if name in _UTC_NAMES:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown timezone {name!r}") from None


def _normalize(expression: object) -> str:
    """One spelling per expression: aliases expanded, single spaces, upper case."""
    if not isinstance(expression, str):
        raise TypeError(f"cron expression must be a str, got {expression!r}")
    text = " ".join(expression.split())
    if text.startswith("@"):
        if text.lower() not in ALIASES:
            raise ValueError(f"invalid cron expression {expression!r}: unknown alias; "
                             f"use one of {', '.join(ALIASES)}")
        return ALIASES[text.lower()]
    return text.upper()


def _validate(expression: str, normalized: str) -> None:
    fields = normalized.split()
    if len(fields) not in (5, 6):
        raise ValueError(
            f"invalid cron expression {expression!r}: expected 5 fields (minute hour "
            f"day-of-month month day-of-week), or 6 with seconds first, got {len(fields)}")
    try:
        ticks = CronSim(normalized, _VALIDATION_START)
    except CronSimError as exc:
        raise ValueError(f"invalid cron expression {expression!r}: "
                         f"{_explain_error(str(exc), expression.split())}") from None
    try:
        next(ticks)
    except StopIteration:
        raise ValueError(f"invalid cron expression {expression!r}: it never matches "
                         "(no tick within 50 years)") from None


def _explain_error(message: str, fields: list[str]) -> str:
    """cronsim says "Bad minute"; name the field's value, as written, and what it allows."""
    specs = FIELDS if len(fields) == 6 else FIELDS[1:]
    for (name, (low, high), allowed), value in zip(specs, fields, strict=True):
        if message != f"Bad {name}":
            continue
        if value.isdigit() and not low <= int(value) <= high:
            return f"{name} {value} out of range {low}-{high}"
        if name == "day-of-month" and value.isdigit():
            return f"day-of-month {value} never occurs in month field {fields[-2]!r}"
        return f"bad {name} field {value!r} (allowed: {allowed}, with lists, ranges and steps)"
    return message


def _offset(moment: datetime) -> timedelta:
    offset = moment.utcoffset()
    assert offset is not None  # only ever called on aware datetimes
    return offset


def _exists(moment: datetime) -> bool:
    """False for a wall-clock reading that falls in a spring-forward gap."""
    # Comparing datetimes that share a tzinfo compares their wall-clock fields.
    return moment.astimezone(UTC).astimezone(moment.tzinfo) == moment


def _real_instant(reading: datetime, zone: tzinfo) -> datetime:
    """The instant of a naive wall-clock reading in ``zone``.

    A repeated reading (fall back) is its first occurrence (fold=0); a reading inside a
    spring-forward gap moves to the first minute after the gap, like Debian's cron.
    """
    moment = reading.replace(tzinfo=zone, fold=0)
    minute = reading.replace(second=0, microsecond=0)
    while not _exists(moment):  # gaps are an hour or two, a day at most (Samoa, 2011)
        minute += timedelta(minutes=1)
        moment = minute.replace(tzinfo=zone)
    return moment


def _describe(normalized: str) -> str:
    """"every 15 minutes" for the common step shapes, else cronsim's explanation."""
    fields = normalized.split()
    rest = " ".join(fields[1:])
    step = _STEP.fullmatch(fields[0])
    if len(fields) == 6 and step and rest == "* * * * *" and 60 % int(step[1]) == 0:
        return _every(int(step[1]), "second")
    if len(fields) == 5 and step and rest == "* * * *" and 60 % int(step[1]) == 0:
        return _every(int(step[1]), "minute")
    hours = _STEP.fullmatch(fields[1])
    if len(fields) == 5 and fields[0] == "0" and hours and " ".join(fields[2:]) == "* * *" \
            and 24 % int(hours[1]) == 0:
        return _every(int(hours[1]), "hour")
    try:
        text = CronSim(normalized, _VALIDATION_START).explain()
    except Exception:  # the explanation is best effort; the expression itself is exact
        return normalized
    return text[:1].lower() + text[1:]


def _every(count: int, unit: str) -> str:
    return f"every {unit}" if count == 1 else f"every {count} {unit}s"
