"""aqueue: an asyncio-native task queue for Python on Redis.

Names are imported when first used, so that a worker process (and ``aqueue worker``) loads
only what it needs: see ``tests/test_worker_start.py``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aqueue.client.admin import (
        AsyncAdmin,
        WorkerInfo,
    )
    from aqueue.client.async_queue import AsyncQueue
    from aqueue.client.ops import QueueCounts
    from aqueue.client.sync_queue import Queue
    from aqueue.errors import (
        AqueueError,
        ConnectionFailed,
        EnqueueUncertain,
        FunctionNotAllowed,
        JobCanceled,
        JobExistsError,
        JobExpired,
        JobFailed,
        JobNotDone,
        JobTimeout,
        NoSuchJobError,
        PayloadTooLarge,
        QueueClosed,
        SerializationError,
        WorkerCrashed,
    )
    from aqueue.job import (
        Job,
        JobRecord,
        JobStatus,
        SyncJob,
    )
    from aqueue.jobcontrol.record import Attempt, Progress
    from aqueue.jobcontrol.snooze import Snooze
    from aqueue.options import JobOptions
    from aqueue.retry import Retry
    from aqueue.serializers import (
        JSONSerializer,
        PickleSerializer,
        Serializer,
    )
    from aqueue.tasks import (
        AsyncTask,
        SyncTask,
        Task,
        task,
    )
    from aqueue.worker import Worker
    from aqueue.worker.executor import (
        JobInfo,
        current_job,
    )
    from aqueue.workflow.compose import Chain, Group, Signature, chain, group, step
    from aqueue.workflow.dependency import Dependency
    from aqueue.workflow.handle import SyncWorkflow, Workflow
    from aqueue.workflow.inputs import Outcome

_WHERE = {
    "AsyncQueue": "aqueue.client.async_queue",
    "QueueCounts": "aqueue.client.ops",
    "AsyncAdmin": "aqueue.client.admin",
    "WorkerInfo": "aqueue.client.admin",
    "Queue": "aqueue.client.sync_queue",
    "AqueueError": "aqueue.errors",
    "ConnectionFailed": "aqueue.errors",
    "EnqueueUncertain": "aqueue.errors",
    "FunctionNotAllowed": "aqueue.errors",
    "JobCanceled": "aqueue.errors",
    "JobExistsError": "aqueue.errors",
    "JobExpired": "aqueue.errors",
    "JobFailed": "aqueue.errors",
    "JobNotDone": "aqueue.errors",
    "JobTimeout": "aqueue.errors",
    "NoSuchJobError": "aqueue.errors",
    "PayloadTooLarge": "aqueue.errors",
    "QueueClosed": "aqueue.errors",
    "SerializationError": "aqueue.errors",
    "WorkerCrashed": "aqueue.errors",
    "Attempt": "aqueue.jobcontrol.record",
    "Progress": "aqueue.jobcontrol.record",
    "Snooze": "aqueue.jobcontrol.snooze",
    "Job": "aqueue.job",
    "JobRecord": "aqueue.job",
    "JobStatus": "aqueue.job",
    "SyncJob": "aqueue.job",
    "JobOptions": "aqueue.options",
    "Retry": "aqueue.retry",
    "JSONSerializer": "aqueue.serializers",
    "PickleSerializer": "aqueue.serializers",
    "Serializer": "aqueue.serializers",
    "AsyncTask": "aqueue.tasks",
    "SyncTask": "aqueue.tasks",
    "Task": "aqueue.tasks",
    "task": "aqueue.tasks",
    "Worker": "aqueue.worker",
    "JobInfo": "aqueue.worker.executor",
    "current_job": "aqueue.worker.executor",
    "Dependency": "aqueue.workflow.dependency",
    "Chain": "aqueue.workflow.compose",
    "Group": "aqueue.workflow.compose",
    "Signature": "aqueue.workflow.compose",
    "chain": "aqueue.workflow.compose",
    "group": "aqueue.workflow.compose",
    "step": "aqueue.workflow.compose",
    "SyncWorkflow": "aqueue.workflow.handle",
    "Workflow": "aqueue.workflow.handle",
    "Outcome": "aqueue.workflow.inputs",
}

__all__ = [
    "AqueueError",
    "AsyncAdmin",
    "AsyncQueue",
    "AsyncTask",
    "Attempt",
    "Chain",
    "ConnectionFailed",
    "Dependency",
    "EnqueueUncertain",
    "FunctionNotAllowed",
    "Group",
    "JSONSerializer",
    "Job",
    "JobCanceled",
    "JobExistsError",
    "JobExpired",
    "JobFailed",
    "JobInfo",
    "JobNotDone",
    "JobOptions",
    "JobRecord",
    "JobStatus",
    "JobTimeout",
    "NoSuchJobError",
    "Outcome",
    "PayloadTooLarge",
    "PickleSerializer",
    "Progress",
    "Queue",
    "QueueClosed",
    "QueueCounts",
    "Retry",
    "SerializationError",
    "Serializer",
    "Signature",
    "Snooze",
    "SyncJob",
    "SyncTask",
    "SyncWorkflow",
    "Task",
    "Worker",
    "WorkerCrashed",
    "WorkerInfo",
    "Workflow",
    "chain",
    "current_job",
    "group",
    "step",
    "task",
]

def __getattr__(name: str) -> Any:
    if name == "__version__":
        return _version()
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'aqueue' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return [*__all__, "__version__"]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        # The distribution is `aqueue-redis`: the name `aqueue` on PyPI is another project's.
        return version("aqueue-redis")
    except PackageNotFoundError:  # imported from a checkout that was never installed
        return "0+unknown"
