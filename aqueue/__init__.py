"""aqueue: an asyncio-native task queue for Python on Redis."""

from importlib.metadata import PackageNotFoundError, version

from aqueue.client import AsyncQueue, QueueCounts
from aqueue.client.admin import AsyncAdmin, WorkerInfo
from aqueue.client.sync_queue import Queue
from aqueue.errors import (
    AqueueError,
    ConnectionFailed,
    EnqueueUncertain,
    FunctionNotAllowed,
    JobCanceled,
    JobExistsError,
    JobFailed,
    JobNotDone,
    JobTimeout,
    NoSuchJobError,
    PayloadTooLarge,
    QueueClosed,
    SerializationError,
    WorkerCrashed,
)
from aqueue.job import Job, JobRecord, JobStatus, SyncJob
from aqueue.options import JobOptions
from aqueue.retry import Retry
from aqueue.serializers import JSONSerializer, PickleSerializer, Serializer
from aqueue.task import AsyncTask, SyncTask, Task, task
from aqueue.worker import Worker
from aqueue.worker.executor import JobInfo, current_job

__all__ = [
    "AqueueError",
    "AsyncAdmin",
    "AsyncQueue",
    "AsyncTask",
    "ConnectionFailed",
    "EnqueueUncertain",
    "FunctionNotAllowed",
    "JSONSerializer",
    "Job",
    "JobCanceled",
    "JobExistsError",
    "JobFailed",
    "JobInfo",
    "JobNotDone",
    "JobOptions",
    "JobRecord",
    "JobStatus",
    "JobTimeout",
    "NoSuchJobError",
    "PayloadTooLarge",
    "PickleSerializer",
    "Queue",
    "QueueClosed",
    "QueueCounts",
    "Retry",
    "SerializationError",
    "Serializer",
    "SyncJob",
    "SyncTask",
    "Task",
    "Worker",
    "WorkerCrashed",
    "WorkerInfo",
    "current_job",
    "task",
]

try:
    # The distribution is `aqueue-redis`: the name `aqueue` on PyPI is another project's.
    __version__ = version("aqueue-redis")
except PackageNotFoundError:  # imported from a checkout that was never installed
    __version__ = "0+unknown"
