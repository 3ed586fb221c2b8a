"""Cron and Every: ticks across DST, descriptions, bad input, JSON and fingerprints.

Pure time logic: every test passes its own instants (a fake clock), nothing sleeps and
nothing needs Redis. ``due_ticks`` (misfires and limits) is in test_schedules_due.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from aqueue.schedules import (
    Cron,
    Every,
    Misfire,
    Repeat,
    Schedule,
    due_ticks,
    schedule_from_json,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
        microsecond: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


def ticks_on(schedule: Schedule, zone: ZoneInfo, day: date) -> list[datetime]:
    """Every tick whose local date in ``zone`` is ``day``."""
    midnight = datetime.combine(day, datetime.min.time(), tzinfo=zone)
    ticks, tick = [], midnight - timedelta(microseconds=1)
    while (tick := schedule.next_after(tick)).astimezone(zone).date() == day:
        ticks.append(tick)
    return ticks


def gaps(ticks: list[datetime]) -> set[timedelta]:
    return {later - earlier for earlier, later in pairwise(ticks)}


# --- Daylight saving -------------------------------------------------------------------

def test_daily_0230_berlin_runs_once_at_0300_local_on_the_spring_forward_day() -> None:
    ticks = ticks_on(Cron("30 2 * * *", "Europe/Berlin"), BERLIN, date(2026, 3, 29))
    assert ticks == [utc(2026, 3, 29, 1, 0)]
    assert ticks[0].astimezone(BERLIN).strftime("%H:%M %Z") == "03:00 CEST"


def test_daily_0230_berlin_runs_once_on_the_fall_back_day_at_the_first_0230() -> None:
    ticks = ticks_on(Cron("30 2 * * *", "Europe/Berlin"), BERLIN, date(2026, 10, 25))
    assert ticks == [utc(2026, 10, 25, 0, 30)]
    assert ticks[0].astimezone(BERLIN).strftime("%H:%M %Z") == "02:30 CEST"


def test_daily_0230_berlin_is_back_at_0230_local_the_day_after_each_change() -> None:
    cron = Cron("30 2 * * *", "Europe/Berlin")
    after_spring = cron.next_after(utc(2026, 3, 29, 12))
    after_autumn = cron.next_after(utc(2026, 10, 25, 12))
    assert after_spring.astimezone(BERLIN).strftime("%m-%d %H:%M %Z") == "03-30 02:30 CEST"
    assert after_autumn.astimezone(BERLIN).strftime("%m-%d %H:%M %Z") == "10-26 02:30 CET"


def test_from_inside_the_repeated_hour_the_next_0230_is_tomorrows() -> None:
    second_0210 = datetime(2026, 10, 25, 2, 10, tzinfo=BERLIN, fold=1)  # 01:10 UTC
    assert Cron("30 2 * * *", "Europe/Berlin").next_after(second_0210) == utc(2026, 10, 26, 1, 30)


def test_two_ticks_inside_the_spring_forward_gap_make_one_run_at_0300() -> None:
    ticks = ticks_on(Cron("15,45 2 * * *", "Europe/Berlin"), BERLIN, date(2026, 3, 29))
    assert ticks == [utc(2026, 3, 29, 1, 0)]


def test_a_fixed_time_with_a_seconds_field_follows_the_wall_clock_too() -> None:
    cron = Cron("0 30 2 * * *", "Europe/Berlin")
    assert ticks_on(cron, BERLIN, date(2026, 3, 29)) == [utc(2026, 3, 29, 1, 0)]
    assert ticks_on(cron, BERLIN, date(2026, 10, 25)) == [utc(2026, 10, 25, 0, 30)]


@pytest.mark.parametrize("start", [utc(2026, 3, 28, 12), utc(2026, 10, 24, 12)],
                         ids=["spring-forward", "fall-back"])
def test_hourly_berlin_job_runs_every_real_hour_across_the_change(start: datetime) -> None:
    ticks = Cron("0 * * * *", "Europe/Berlin").upcoming(start, 48)
    assert ticks[0] == start + timedelta(hours=1)
    assert gaps(ticks) == {timedelta(hours=1)}


def test_quarter_hourly_new_york_job_has_no_gap_on_the_spring_forward_day() -> None:
    ticks = ticks_on(Cron("*/15 * * * *", "America/New_York"), NEW_YORK, date(2026, 3, 8))
    assert len(ticks) == 23 * 4
    assert gaps(ticks) == {timedelta(minutes=15)}


def test_quarter_hourly_new_york_job_has_no_duplicate_on_the_fall_back_day() -> None:
    ticks = ticks_on(Cron("*/15 * * * *", "America/New_York"), NEW_YORK, date(2026, 11, 1))
    assert len(ticks) == 25 * 4
    assert gaps(ticks) == {timedelta(minutes=15)}


def test_a_daily_time_is_local_time_in_summer_and_in_winter() -> None:
    cron = Cron("0 9 * * *", "Europe/Berlin")
    assert cron.next_after(utc(2026, 1, 15)) == utc(2026, 1, 15, 8)
    assert cron.next_after(utc(2026, 7, 15)) == utc(2026, 7, 15, 7)


@pytest.mark.parametrize("expression", ["30 2 * * *", "0 * * * *", "*/15 * * * *",
                                        "15,45 2 * * *", "0 30 2 * * *"])
def test_last_at_or_before_is_the_latest_tick_not_after_t_across_dst(expression: str) -> None:
    cron = Cron(expression, "Europe/Berlin")
    for start in (utc(2026, 3, 28, 20), utc(2026, 10, 24, 20)):
        ticks = cron.upcoming(start - timedelta(days=1), 200)
        for minutes in range(0, 12 * 60, 7):
            t = start + timedelta(minutes=minutes, seconds=13)
            assert cron.last_at_or_before(t) == max(x for x in ticks if x <= t)


# --- Cron and Every basics -------------------------------------------------------------

def test_next_after_is_strictly_after_a_tick() -> None:
    assert Cron("*/15 * * * *").next_after(utc(2026, 1, 1, 10, 15)) == utc(2026, 1, 1, 10, 30)


def test_last_at_or_before_includes_a_tick_at_t() -> None:
    tick = utc(2026, 1, 1, 10, 15)
    assert Cron("*/15 * * * *").last_at_or_before(tick) == tick


def test_ticks_come_out_in_utc_whatever_zone_goes_in() -> None:
    tick = Cron("0 9 * * *", "Europe/Berlin").next_after(datetime(2026, 1, 15, tzinfo=BERLIN))
    assert tick.tzinfo is UTC


def test_upcoming_lists_n_ticks_oldest_first() -> None:
    assert Cron("0 */6 * * *").upcoming(utc(2026, 1, 1, 1), 3) == [
        utc(2026, 1, 1, 6), utc(2026, 1, 1, 12), utc(2026, 1, 1, 18)]


@pytest.mark.parametrize(("alias", "expansion"), [
    ("@hourly", "0 * * * *"), ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"),
    ("@weekly", "0 0 * * 0"), ("@monthly", "0 0 1 * *"), ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *")])
def test_an_alias_ticks_like_its_crontab_expansion(alias: str, expansion: str) -> None:
    start = utc(2026, 5, 17, 13, 7)
    assert Cron(alias).upcoming(start, 3) == Cron(expansion).upcoming(start, 3)


def test_a_sixth_field_puts_seconds_first() -> None:
    assert Cron("*/10 * * * * *").upcoming(utc(2026, 1, 1, 0, 0, 55), 2) == [
        utc(2026, 1, 1, 0, 1, 0), utc(2026, 1, 1, 0, 1, 10)]


def test_every_without_anchor_is_aligned_to_the_epoch() -> None:
    every = Every(timedelta(minutes=15))
    assert every.next_after(utc(2026, 1, 1, 10, 7)) == utc(2026, 1, 1, 10, 15)


def test_every_starts_at_its_anchor_and_has_no_tick_before_it() -> None:
    every = Every(3600, anchor=utc(2026, 1, 1, 9, 30))
    assert every.next_after(utc(2025, 6, 1)) == utc(2026, 1, 1, 9, 30)
    assert every.next_after(utc(2026, 1, 1, 12)) == utc(2026, 1, 1, 12, 30)
    assert every.last_at_or_before(utc(2026, 1, 1, 9)) is None


def test_every_takes_seconds_as_a_float() -> None:
    assert Every(2.5).upcoming(utc(2026, 1, 1), 2) == [
        utc(2026, 1, 1) + timedelta(seconds=2.5), utc(2026, 1, 1, 0, 0, 5)]


def test_every_counts_elapsed_time_so_a_day_drifts_on_the_local_clock_at_dst() -> None:
    every = Every(timedelta(days=1), anchor=datetime(2026, 3, 28, 2, 30, tzinfo=BERLIN))
    second = every.next_after(every.next_after(utc(2026, 3, 1)))
    assert second.astimezone(BERLIN).strftime("%m-%d %H:%M") == "03-29 03:30"


# --- Descriptions ----------------------------------------------------------------------

@pytest.mark.parametrize(("schedule", "text"), [
    (Cron("*/15 * * * *"), "every 15 minutes (UTC)"),
    (Cron("30 2 * * *", "Europe/Berlin"), "at 02:30 every day (Europe/Berlin)"),
    (Cron("@hourly"), "at the start of every hour (UTC)"),
    (Cron("0 */6 * * *"), "every 6 hours (UTC)"),
    (Cron("*/10 * * * * *"), "every 10 seconds (UTC)"),
    (Cron("0 9 * * 1-5", "America/New_York"), "at 09:00 on Monday through Friday "
                                               "(America/New_York)"),
    (Every(900), "every 15 minutes"),
    (Every(timedelta(days=1)), "every 24 hours"),
    (Every(90), "every 90 seconds"),
    (Every(1.5), "every 1.5 seconds"),
    (Every(3600, anchor=utc(2026, 1, 1, 9, 30)), "every hour from 2026-01-01 09:30:00 UTC"),
])
def test_describe_says_it_in_words(schedule: Schedule, text: str) -> None:
    assert schedule.describe() == text


def test_a_step_that_does_not_divide_the_hour_is_not_called_every_n_minutes() -> None:
    assert "every 7 minutes" not in Cron("*/7 * * * *").describe()  # :56 to :00 is 4 minutes


def test_repeat_describes_its_limits() -> None:
    repeat = Repeat(Cron("@daily"), limit=3, until=utc(2026, 12, 31))
    assert repeat.describe() == (
        "at 00:00 every day (UTC), 3 times at most, until 2026-12-31 00:00:00 UTC")


# --- Bad input -------------------------------------------------------------------------

@pytest.mark.parametrize(("expression", "message"), [
    ("61 * * * *", r"invalid cron expression '61 \* \* \* \*': minute 61 out of range 0-59"),
    ("0 24 * * *", "hour 24 out of range 0-23"),
    ("0 0 * * 8", "day-of-week 8 out of range 0-7"),
    ("0 0 30 2 *", "day-of-month 30 never occurs in month field '2'"),
    ("x * * * *", "bad minute field 'x'"),
    ("0 0 * JUNE *", "bad month field 'JUNE'"),
    ("*/0 * * * *", "bad minute field '\\*/0'"),
    ("* * * *", "expected 5 fields .* got 4"),
    ("* * * * * * *", "expected 5 fields .* got 7"),
    ("@reboot", "unknown alias; use one of @yearly"),
    ("0 0 */20 * 1L", "it never matches"),
])
def test_a_bad_expression_fails_at_construction_naming_the_problem(
        expression: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Cron(expression)


def test_an_unknown_timezone_fails_at_construction() -> None:
    with pytest.raises(ValueError, match=r"^unknown timezone 'Europe/Berln'$"):
        Cron("* * * * *", "Europe/Berln")


@pytest.mark.parametrize("name", ["", "America", "../etc/passwd", "utc "])
def test_a_timezone_that_is_not_a_zone_name_is_unknown(name: str) -> None:
    with pytest.raises(ValueError, match="unknown timezone"):
        Cron("* * * * *", name)


def test_every_under_one_second_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 second"):
        Every(0.5)


NAIVE = datetime(2026, 1, 1, 12)
NAIVE_USES: dict[str, Callable[[], object]] = {
    "Cron.next_after": lambda: Cron("@hourly").next_after(NAIVE),
    "Cron.upcoming": lambda: Cron("@hourly").upcoming(NAIVE, 2),
    "Cron.last_at_or_before": lambda: Cron("@hourly").last_at_or_before(NAIVE),
    "Every anchor": lambda: Every(60, anchor=NAIVE),
    "Every.next_after": lambda: Every(60).next_after(NAIVE),
    "due_ticks now": lambda: due_ticks(Every(60), None, NAIVE),
    "due_ticks last_tick": lambda: due_ticks(Every(60), NAIVE, utc(2026, 1, 1)),
    "due_ticks until": lambda: due_ticks(Every(60), None, utc(2026, 1, 1), until=NAIVE),
    "Repeat until": lambda: Repeat(Every(60), until=NAIVE),
}


@pytest.mark.parametrize("use", NAIVE_USES.values(), ids=NAIVE_USES.keys())
def test_a_naive_datetime_is_refused_everywhere(use: Callable[[], object]) -> None:
    with pytest.raises(TypeError, match=r"naive datetime .*; pass an aware datetime"):
        use()


def test_a_date_is_not_a_datetime() -> None:
    with pytest.raises(TypeError, match="must be a datetime, got date"):
        Cron("@daily").next_after(date(2026, 1, 1))  # type: ignore[arg-type]


@pytest.mark.parametrize("make", [lambda: Misfire.catch_up(0), lambda: Misfire.skip(grace=-1),
                                  lambda: Misfire("skip", max_runs=3),
                                  lambda: Misfire("later")])  # type: ignore[arg-type]
def test_an_invalid_misfire_policy_is_refused(make: Callable[[], Misfire]) -> None:
    with pytest.raises(ValueError):
        make()


# --- JSON and fingerprints -------------------------------------------------------------

SCHEDULES = [Cron("*/15 * * * *"), Cron("30 2 * * *", "Europe/Berlin"), Cron("@weekly"),
             Cron("*/10 * * * * *", "America/New_York"), Every(900), Every(2.5),
             Every(timedelta(hours=1), anchor=datetime(2026, 3, 29, 3, tzinfo=BERLIN))]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=str)
def test_a_schedule_round_trips_through_json(schedule: Schedule) -> None:
    back = schedule_from_json(schedule.to_json())
    assert back == schedule
    assert back.fingerprint() == schedule.fingerprint()


@pytest.mark.parametrize("policy", [Misfire.run_once(), Misfire.catch_up(5, grace=30.5),
                                    Misfire.skip(grace=timedelta(minutes=5))], ids=str)
def test_a_misfire_policy_round_trips_through_json(policy: Misfire) -> None:
    assert Misfire.from_json(policy.to_json()) == policy


def test_a_repeat_round_trips_through_json() -> None:
    repeat = Repeat(Cron("0 9 * * 1-5", "Europe/Berlin"), Misfire.catch_up(3), limit=10,
                    until=utc(2027, 1, 1))
    assert Repeat.from_json(repeat.to_json()) == repeat


def test_the_json_is_plain_enough_to_read_in_redis_cli() -> None:
    assert Cron("30 2 * * *", "Europe/Berlin").to_json() == (
        '{"expression":"30 2 * * *","timezone":"Europe/Berlin","type":"cron"}')
    assert Every(900).to_json() == '{"anchor":null,"interval":900,"type":"every"}'


def test_an_unknown_schedule_type_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown schedule type 'rrule'"):
        schedule_from_json('{"type": "rrule"}')


def test_equivalent_spellings_have_one_fingerprint() -> None:
    assert len({Cron("@daily").fingerprint(), Cron("0  0 * * *").fingerprint(),
                Cron("@midnight").fingerprint()}) == 1
    assert Cron("0 0 * * sun").fingerprint() == Cron("0 0 * * SUN").fingerprint()
    assert Every(60).fingerprint() == Every(timedelta(minutes=1)).fingerprint()


def test_the_fingerprint_changes_with_any_part_of_the_definition() -> None:
    fingerprints = {Cron("30 2 * * *").fingerprint(),
                    Cron("30 2 * * *", "Europe/Berlin").fingerprint(),
                    Cron("31 2 * * *").fingerprint(), Every(60).fingerprint(),
                    Repeat(Cron("30 2 * * *")).fingerprint(),
                    Repeat(Cron("30 2 * * *"), limit=5).fingerprint(),
                    Repeat(Cron("30 2 * * *"), Misfire.skip()).fingerprint()}
    assert len(fingerprints) == 7


def test_the_fingerprint_is_a_fixed_sha256_not_a_per_process_hash() -> None:
    # sha256('{"expression":"0 * * * *","timezone":"UTC","type":"cron"}')
    assert Cron("@hourly").fingerprint() == (
        "4c318fe142e109c4553c8d3860eaeee4c57471c8c832881cda0530f3e6b907d9")
