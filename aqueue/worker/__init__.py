"""The worker process: fetcher, executor, acker, heartbeat and background plugins."""

from aqueue.worker.worker import Worker

__all__ = ["Worker"]
