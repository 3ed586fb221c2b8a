"""The time logic of repeating jobs: when ticks fall, and which are due. No Redis here.

``Cron`` and ``Every`` are schedules; ``due_ticks`` (or ``Repeat.due``) tells a worker
which ticks to enqueue at a given instant under a ``Misfire`` policy and repeat limits.
All of them are immutable values that round-trip through JSON and have a ``fingerprint()``.
Instants go in aware (a naive datetime is a ``TypeError``) and come out aware, in UTC.

Cron expressions are parsed and evaluated by cronsim (by the author of Healthchecks.io,
which runs on it) rather than croniter, because cronsim is typed, has no dependencies,
explains expressions in English and follows Debian cron's DST rules, so that a daily 02:30
job runs once on both change days, where croniter 7.0 runs it twice on the fall-back day.
croniter was also declared abandoned in December 2024 and only released again after moving
to pallets-eco (6.1, March 2026), while cronsim has had steady releases, 1.0 (2021) to 2.8.
"""

from aqueue.schedules.cron import Cron
from aqueue.schedules.due import DueTicks, due_ticks
from aqueue.schedules.every import Every
from aqueue.schedules.misfire import Misfire
from aqueue.schedules.repeat import Repeat, schedule_from_dict, schedule_from_json
from aqueue.schedules.schedule import Schedule

__all__ = [
    "Cron",
    "DueTicks",
    "Every",
    "Misfire",
    "Repeat",
    "Schedule",
    "due_ticks",
    "schedule_from_dict",
    "schedule_from_json",
]
