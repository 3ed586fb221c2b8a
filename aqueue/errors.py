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
