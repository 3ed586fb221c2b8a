"""aqueue: an asyncio-native task queue for Python on Redis."""

from aqueue.client import AsyncQueue, QueueCounts
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
from aqueue.job import Job, JobStatus
from aqueue.retry import Retry
from aqueue.serializers import JSONSerializer, PickleSerializer, Serializer
from aqueue.worker import Worker
from aqueue.worker.executor import JobInfo, current_job

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
