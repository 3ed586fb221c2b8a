"""Job control: cancelling running jobs, meta and progress, callbacks, snooze, attempts.

Each part keeps off the hot path: a job that uses none of it writes and reads nothing
more than before (docs/job-control.md).
"""
