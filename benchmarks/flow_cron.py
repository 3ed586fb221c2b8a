"""The schedule of the cron-lateness benchmark (``--cron benchmarks.flow_cron:TICKS``)."""

from aqueue.cron import CronJob

TICKS = [CronJob("bench-tick", "benchmarks.tasks.aqueue_tasks.noop", "* * * * * *",
                 queue="bench-cron", options={"result_ttl": 3600})]
