"""due_ticks: what a worker enqueues after a pause, under each misfire policy and limit.

A fake clock throughout: each test passes ``last_tick`` and ``now`` itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aqueue.schedules import Cron, DueTicks, Every, Misfire, Repeat, due_ticks, schedule_from_json

HOURLY = Cron("0 * * * *")
MINUTELY = Cron("* * * * *")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
        microsecond: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


def hours(*values: int) -> list[datetime]:
    return [utc(2026, 1, 1, h) for h in values]


# --- On time, late and misfired --------------------------------------------------------

def test_a_tick_found_on_time_is_enqueued_and_the_next_one_is_returned() -> None:
    assert due_ticks(MINUTELY, utc(2026, 1, 1, 10, 0), utc(2026, 1, 1, 10, 1, 0, 5000)) == (
        [utc(2026, 1, 1, 10, 1)], utc(2026, 1, 1, 10, 2))


def test_a_tick_late_by_less_than_the_grace_is_not_a_misfire() -> None:
    due = due_ticks(HOURLY, utc(2026, 1, 1, 9), utc(2026, 1, 1, 10, 0, 59), Misfire.skip())
    assert due.ticks == hours(10)


def test_a_tick_late_by_more_than_the_grace_is_a_misfire() -> None:
    due = due_ticks(HOURLY, utc(2026, 1, 1, 9), utc(2026, 1, 1, 10, 1, 1), Misfire.skip())
    assert due == ([], utc(2026, 1, 1, 11))


def test_the_grace_period_can_be_widened() -> None:
    due = due_ticks(HOURLY, utc(2026, 1, 1, 9), utc(2026, 1, 1, 10, 4),
                    Misfire.skip(grace=timedelta(minutes=5)))
    assert due.ticks == hours(10)


def test_asking_again_at_the_same_instant_enqueues_nothing_new() -> None:
    first = due_ticks(HOURLY, utc(2026, 1, 1, 9), utc(2026, 1, 1, 10, 0, 30))
    again = due_ticks(HOURLY, first.ticks[-1], utc(2026, 1, 1, 10, 0, 30))
    assert again == ([], utc(2026, 1, 1, 11))


def test_nothing_is_due_between_ticks() -> None:
    assert due_ticks(HOURLY, utc(2026, 1, 1, 10), utc(2026, 1, 1, 10, 30)) == (
        [], utc(2026, 1, 1, 11))


def test_a_schedule_never_ticked_owes_nothing_older_than_the_grace() -> None:
    assert due_ticks(HOURLY, None, utc(2026, 1, 1, 10, 30)) == ([], utc(2026, 1, 1, 11))


def test_a_schedule_never_ticked_enqueues_a_tick_within_the_grace() -> None:
    assert due_ticks(HOURLY, None, utc(2026, 1, 1, 10, 0, 30)).ticks == hours(10)


def test_every_tick_within_the_grace_is_enqueued() -> None:
    due = due_ticks(Every(10), utc(2026, 1, 1, 10), utc(2026, 1, 1, 10, 0, 35), Misfire.skip())
    assert due.ticks == [utc(2026, 1, 1, 10, 0, s) for s in (10, 20, 30)]


def test_a_last_tick_ahead_of_now_enqueues_nothing_and_waits_past_it() -> None:
    # Another worker with a clock 90 s ahead stored 10:01; this one reads 09:59:30.
    due = due_ticks(MINUTELY, utc(2026, 1, 1, 10, 1), utc(2026, 1, 1, 9, 59, 30))
    assert due == ([], utc(2026, 1, 1, 10, 2))


# --- Misfire policies after downtime ---------------------------------------------------

def test_run_once_enqueues_one_run_for_all_missed_ticks_then_goes_on_from_now() -> None:
    due = due_ticks(HOURLY, utc(2026, 1, 1, 9), utc(2026, 1, 1, 12, 30), Misfire.run_once())
    assert due == (hours(12), utc(2026, 1, 1, 13))


def test_run_once_is_the_default_policy() -> None:
    assert due_ticks(HOURLY, utc(2026, 1, 1, 9), utc(2026, 1, 1, 12, 30)).ticks == hours(12)


def test_run_once_folds_missed_ticks_into_the_one_found_on_time() -> None:
    due = due_ticks(MINUTELY, utc(2026, 1, 1, 10), utc(2026, 1, 1, 10, 10, 5))
    assert due.ticks == [utc(2026, 1, 1, 10, 10)]


def test_catch_up_enqueues_missed_ticks_oldest_first_up_to_max_runs() -> None:
    due = due_ticks(HOURLY, utc(2026, 1, 1, 9), utc(2026, 1, 1, 15, 30), Misfire.catch_up(3))
    assert due == (hours(10, 11, 12), utc(2026, 1, 1, 16))


def test_catch_up_enqueues_every_missed_tick_when_fewer_than_max_runs() -> None:
    due = due_ticks(HOURLY, utc(2026, 1, 1, 9), utc(2026, 1, 1, 13, 30), Misfire.catch_up(10))
    assert due.ticks == hours(10, 11, 12, 13)


def test_catch_up_adds_the_ticks_found_on_time_to_the_missed_ones() -> None:
    due = due_ticks(HOURLY, utc(2026, 1, 1, 9), utc(2026, 1, 1, 13, 0, 20), Misfire.catch_up(2))
    assert due.ticks == hours(10, 11, 13)


def test_skip_enqueues_no_missed_tick() -> None:
    due = due_ticks(HOURLY, utc(2026, 1, 1, 9), utc(2026, 1, 1, 15, 30), Misfire.skip())
    assert due == ([], utc(2026, 1, 1, 16))


def test_catch_up_over_the_spring_forward_gap_sees_the_0300_run_once() -> None:
    daily = Cron("30 2 * * *", "Europe/Berlin")
    due = due_ticks(daily, utc(2026, 3, 27, 1, 30), utc(2026, 3, 31, 12), Misfire.catch_up(10))
    assert due.ticks == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 0),
                         utc(2026, 3, 30, 0, 30), utc(2026, 3, 31, 0, 30)]


def test_workers_holding_the_same_stored_schedule_agree() -> None:
    stored = Cron("*/5 * * * *", "America/New_York").to_json()
    here, there = schedule_from_json(stored), schedule_from_json(stored)
    args = (utc(2026, 11, 1, 5), utc(2026, 11, 1, 7, 2), Misfire.catch_up(100))
    assert due_ticks(here, *args) == due_ticks(there, *args)
    assert len(due_ticks(here, *args).ticks) == 24  # two real hours of 5-minute ticks


# --- Repeat limits ---------------------------------------------------------------------

def test_limit_caps_the_ticks_enqueued_and_ends_the_schedule() -> None:
    due = due_ticks(HOURLY, utc(2026, 1, 1, 9), utc(2026, 1, 1, 15, 30), Misfire.catch_up(10),
                    runs=1, limit=3)
    assert due == (hours(10, 11), None)


def test_the_last_allowed_run_leaves_no_next_tick() -> None:
    due = due_ticks(HOURLY, utc(2026, 1, 1, 9), utc(2026, 1, 1, 10, 0, 5), runs=4, limit=5)
    assert due == (hours(10), None)


def test_runs_under_the_limit_keep_a_next_tick() -> None:
    due = due_ticks(HOURLY, utc(2026, 1, 1, 9), utc(2026, 1, 1, 10, 0, 5), runs=3, limit=5)
    assert due == (hours(10), utc(2026, 1, 1, 11))


def test_a_schedule_that_reached_its_limit_is_exhausted() -> None:
    assert due_ticks(HOURLY, utc(2026, 1, 1, 9), utc(2026, 1, 1, 10, 0, 5), runs=5,
                     limit=5) == ([], None)


def test_until_admits_no_tick_after_it() -> None:
    due = due_ticks(HOURLY, utc(2026, 1, 1, 9), utc(2026, 1, 1, 15, 30), Misfire.catch_up(10),
                    until=utc(2026, 1, 1, 11, 30))
    assert due == (hours(10, 11), None)


def test_a_tick_exactly_at_until_still_runs() -> None:
    due = due_ticks(HOURLY, utc(2026, 1, 1, 9), utc(2026, 1, 1, 10, 0, 5),
                    until=utc(2026, 1, 1, 10))
    assert due == (hours(10), None)


def test_the_next_tick_is_kept_while_it_is_before_until() -> None:
    due = due_ticks(HOURLY, utc(2026, 1, 1, 9), utc(2026, 1, 1, 10, 0, 5),
                    until=utc(2026, 1, 1, 11))
    assert due.next_tick == utc(2026, 1, 1, 11)


def test_run_once_past_until_runs_the_last_tick_before_until() -> None:
    due = due_ticks(HOURLY, utc(2026, 1, 1, 9), utc(2026, 1, 1, 14), until=utc(2026, 1, 1, 11, 30))
    assert due == (hours(11), None)


def test_repeat_due_applies_its_policy_and_limits() -> None:
    repeat = Repeat(Every(timedelta(hours=1)), Misfire.catch_up(10), limit=3)
    assert repeat.due(utc(2026, 1, 1, 9), utc(2026, 1, 1, 15, 30), runs=1) == DueTicks(
        hours(10, 11), None)


@pytest.mark.parametrize("bad", [{"runs": -1}, {"limit": 0}, {"runs": 1.5}])
def test_bad_counts_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must be an int"):
        due_ticks(HOURLY, None, utc(2026, 1, 1), **bad)  # type: ignore[arg-type]
