"""Schedules for the cron tests' worker processes (``--cron tests.flow_cron:EVERY_SECOND``)."""

from aqueue.cron import CronJob

EVERY_SECOND = [
    CronJob("every-second", "tests.flow_tasks.note", "* * * * * *", args=["tick"],
            queue="cron-five", options={"result_ttl": 0}),
]
NOT_A_LIST = 42
