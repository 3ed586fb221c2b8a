"""``--cron module:NAME``: the schedules a worker's operator names on the command line."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from aqueue.cron.definition import CronJob


def load_schedules(specs: Iterable[str]) -> list[CronJob]:
    """The ``CronJob`` lists (or single jobs) at ``module:NAME``; errors name the spec."""
    jobs: list[CronJob] = []
    for spec in specs:
        module_name, sep, attr = spec.partition(":")
        if not sep or not module_name or not attr:
            raise ValueError(f"--cron {spec!r}: write MODULE:NAME, e.g. myapp.tasks:SCHEDULES")
        module = importlib.import_module(module_name)
        if not hasattr(module, attr):
            raise ValueError(f"--cron {spec!r}: module {module_name} has no {attr!r}")
        value = getattr(module, attr)
        if isinstance(value, CronJob):
            items = [value]
        elif isinstance(value, list | tuple):
            items = list(value)
        else:
            raise ValueError(f"--cron {spec!r}: {attr} is a {type(value).__name__}, not a "
                             "list of aqueue.cron.CronJob")
        bad = next((item for item in items if not isinstance(item, CronJob)), None)
        if bad is not None:
            raise ValueError(f"--cron {spec!r}: {bad!r} is not an aqueue.cron.CronJob")
        jobs += items
    return jobs
