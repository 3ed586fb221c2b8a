"""Exceptions raised by aqueue."""

from __future__ import annotations


class AqueueError(Exception):
    """Base class of every error aqueue raises."""


class ConnectionFailed(AqueueError):
    """Redis could not be reached, or the URL is not a Redis URL."""


class SerializationError(AqueueError, TypeError):
    """Arguments or a result could not be encoded by the queue's serializer."""


class JobExistsError(AqueueError):
    """A job with the given ``job_id`` is already queued, scheduled or running."""


class NoSuchJobError(AqueueError):
    """The job does not exist (never did, or it expired)."""


class FunctionNotAllowed(AqueueError):
    """A job named a function outside the modules the worker was told to import."""


class JobTimeout(AqueueError):
    """A job ran longer than its ``job_timeout`` and was cancelled."""


class JobFailed(AqueueError):
    """The job failed; carries the remote exception's type, message and traceback."""

    def __init__(self, job_id: str, exc_type: str, exc_message: str, traceback: str) -> None:
        super().__init__(f"job {job_id} failed: {exc_type}: {exc_message}")
        self.job_id = job_id
        self.exc_type = exc_type
        self.exc_message = exc_message
        self.traceback = traceback


class WorkerCrashed(AqueueError):
    """One of the worker's own coroutines failed unexpectedly; the worker stopped."""


class JobCanceled(AqueueError):
    """The job was canceled before it ran."""


class JobExpired(JobCanceled):
    """The job was not started before it expired (``expires``), so it never ran."""


class JobNotDone(AqueueError):
    """The job has not ended yet (``Job.outcome()`` on a job still queued or running)."""


class QueueClosed(AqueueError):
    """The queue was closed; open a new one."""


class PayloadTooLarge(SerializationError):
    """A job's serialized arguments exceed the queue's ``max_payload``."""


class EnqueueUncertain(ConnectionFailed):
    """Redis went away after the enqueue was sent, and a resend could not tell whether it
    arrived: the jobs (``job_ids``) may or may not have been enqueued. Check with
    ``queue.fetch_job(job_id)`` before enqueueing them again."""

    def __init__(self, message: str, job_ids: list[str]) -> None:
        super().__init__(message)
        self.job_ids = job_ids


class ImportFailed(AqueueError):
    """A module a worker was told to import (``--import``) failed to import."""


class WorkerNotListening(AqueueError):
    """A request to a worker (a running job's stack) found no process listening."""
