"""aqueue: an asyncio-native task queue for Python on Redis."""

from aqueue.errors import (
    AqueueError,
    ConnectionFailed,
    FunctionNotAllowed,
    JobCanceled,
    JobExistsError,
    JobFailed,
    JobTimeout,
    NoSuchJobError,
    SerializationError,
    WorkerCrashed,
)
from aqueue.executor import JobInfo, current_job
from aqueue.job import Job, JobStatus
from aqueue.queue import AsyncQueue, QueueCounts
from aqueue.retry import Retry
from aqueue.serializers import JSONSerializer, PickleSerializer, Serializer
from aqueue.worker import Worker

__all__ = [
    "AqueueError",
    "AsyncQueue",
    "ConnectionFailed",
    "FunctionNotAllowed",
    "JSONSerializer",
    "Job",
    "JobCanceled",
    "JobExistsError",
    "JobFailed",
    "JobInfo",
    "JobStatus",
    "JobTimeout",
    "NoSuchJobError",
    "PickleSerializer",
    "QueueCounts",
    "Retry",
    "SerializationError",
    "Serializer",
    "Worker",
    "WorkerCrashed",
    "current_job",
]

__version__ = "0.1.0"
