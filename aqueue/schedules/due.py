"""``due_ticks``: which ticks a worker enqueues now, and when it should look again."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from aqueue.schedules._instants import ONE_MICROSECOND, aware_utc, optional_aware_utc
from aqueue.schedules.misfire import DEFAULT_MISFIRE, Misfire
from aqueue.schedules.schedule import Schedule


class DueTicks(NamedTuple):
    """What ``due_ticks`` decided: enqueue ``ticks`` (oldest first), wake at ``next_tick``."""

    ticks: list[datetime]
    next_tick: datetime | None  # None: the schedule is exhausted (limit reached, past until)


def due_ticks(
    schedule: Schedule,
    last_tick: datetime | None,
    now: datetime,
    policy: Misfire = DEFAULT_MISFIRE,
    *,
    runs: int = 0,
    limit: int | None = None,
    until: datetime | None = None,
) -> DueTicks:
    """The ticks to enqueue at ``now``, given the last tick handled, and the next tick.

    Ticks in ``(last_tick, now]`` are due. Those found within ``policy.grace`` of their
    time are enqueued; older ones are misfired and handled by the policy: ``run_once``
    enqueues one run (the latest due tick) for all of them, ``catch_up(n)`` the ``n``
    oldest misfired ones (plus those within grace), ``skip`` none of them. With no
    ``last_tick`` (never ticked) nothing is owed but the ticks within grace of ``now``.

    ``runs`` is how many runs were enqueued so far; with ``limit`` at most
    ``limit - runs`` more are, and ``until`` admits no tick after it. ``next_tick`` is the
    first tick after ``now`` (after ``last_tick`` if a faster clock stored a later one), or
    None when no run remains. Pure and deterministic: the same arguments give the same
    answer on every worker.
    """
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a Cron or an Every, got {schedule!r}")
    if not isinstance(policy, Misfire):
        raise TypeError(f"policy must be a Misfire, got {policy!r}")
    current = aware_utc(now, "now")
    last = optional_aware_utc(last_tick, "last_tick")
    end = optional_aware_utc(until, "until")
    _check_count(runs, "runs", minimum=0)
    if limit is not None:
        _check_count(limit, "limit", minimum=1)
        if runs >= limit:
            return DueTicks([], None)

    horizon = current if end is None else min(current, end)
    ticks = _due(schedule, last, horizon, current - policy.grace, policy)
    if limit is not None:
        ticks = ticks[: limit - runs]
        if runs + len(ticks) >= limit:
            return DueTicks(ticks, None)
    next_tick = schedule.next_after(current if last is None else max(current, last))
    if end is not None and next_tick > end:
        return DueTicks(ticks, None)
    return DueTicks(ticks, next_tick)


def _due(schedule: Schedule, last: datetime | None, horizon: datetime, cutoff: datetime,
         policy: Misfire) -> list[datetime]:
    """Due ticks up to ``horizon``; those before ``cutoff`` are misfired."""
    before_cutoff = cutoff - ONE_MICROSECOND
    on_time = _between(schedule, before_cutoff if last is None else max(last, before_cutoff),
                       horizon)
    if last is None:
        return on_time
    first = schedule.next_after(last)
    if first >= cutoff or first > horizon:  # nothing misfired
        return on_time
    if policy.kind == "skip":
        return on_time
    if policy.kind == "run_once":
        latest = on_time[-1] if on_time else schedule.last_at_or_before(horizon)
        assert latest is not None  # `first` itself is at or before the horizon
        return [latest]
    missed = _between(schedule, last, min(before_cutoff, horizon), policy.max_runs)
    return missed + on_time


def _between(schedule: Schedule, after: datetime, upto: datetime,
             most: int | None = None) -> list[datetime]:
    """Ticks in ``(after, upto]``, oldest first, at most ``most`` of them."""
    ticks: list[datetime] = []
    tick = after
    while most is None or len(ticks) < most:
        tick = schedule.next_after(tick)
        if tick > upto:
            break
        ticks.append(tick)
    return ticks


def _check_count(value: object, name: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
