"""Repeating jobs: ``CronJob`` declares one, ``CronPlugin`` (given to workers as
``Worker(cron=[...])``) enqueues its runs, exactly once per tick across all workers."""

from aqueue.cron.definition import CronJob
from aqueue.cron.info import ScheduleInfo

__all__ = ["CronJob", "ScheduleInfo"]
