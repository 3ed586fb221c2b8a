"""What a chain step or a group callback receives: its parents' outcomes, read by the
worker from fields ``release.lua`` wrote into the job (``in:<n>:s|r|e|id``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aqueue.errors import JobCanceled, JobExpired, JobFailed
from aqueue.job import JobStatus
from aqueue.serializers import Serializer

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Outcome(Generic[R]):
    """How one parent ended: its status, its result (if it finished and the result was
    passed) or its error (``"Type: message"``)."""

    queue: str
    job_id: str
    status: JobStatus
    result: R | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is JobStatus.FINISHED

    def value(self) -> R | None:
        """The result, or the parent's end raised (``JobFailed``, ``JobCanceled``...)."""
        if self.ok:
            return self.result
        kind, _, message = (self.error or "").partition(": ")
        if self.status is JobStatus.FAILED:
            raise JobFailed(self.job_id, kind or "Error", message, "")
        if self.status is JobStatus.EXPIRED:
            raise JobExpired(f"job {self.job_id} expired before it started")
        raise JobCanceled(f"job {self.job_id} ended {self.status}: {message}")


def outcomes(fields: Mapping[bytes, bytes], serializer: Serializer) -> list[Outcome[Any]]:
    """The parents' outcomes, in the order they were given (ignored ones left out)."""
    found = []
    for index in range(1, int(fields.get(b"inputs_n", b"0")) + 1):
        prefix = b"in:%d:" % index
        status = fields.get(prefix + b"s")
        if status is None:
            continue
        raw = fields.get(prefix + b"r")
        error = fields.get(prefix + b"e")
        queue, _, job_id = fields.get(prefix + b"id", b"").decode().partition(" ")
        try:
            state = JobStatus(status.decode())
        except ValueError:  # "deleted": it did not end, it was removed
            state = JobStatus.CANCELED
        found.append(Outcome(queue, job_id, state,
                             serializer.loads(raw) if raw is not None else None,
                             error.decode("utf-8", "replace") if error else None))
    return found


def with_inputs(fields: Mapping[bytes, bytes], args: list[Any],
                serializer: Serializer) -> list[Any]:
    """The job's arguments, after its parents' outcomes: a chain step gets the previous
    step's result, a group callback the list of its members' outcomes."""
    found = outcomes(fields, serializer)
    if fields[b"inputs"] == b"chain":
        return [found[0].result if found else None, *args]
    return [found, *args]
