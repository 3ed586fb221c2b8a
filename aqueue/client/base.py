"""What ``AsyncQueue`` and the sync ``Queue`` share: the queue's name and keys, its
serializer and defaults, and the drafting of jobs. They differ only in how they send."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from aqueue.client.encoding import DEFAULT_MAX_PAYLOAD, Draft, FunctionRef, JobEncoder
from aqueue.client.ops import QueueOps
from aqueue.client.translate import due_at
from aqueue.errors import QueueClosed
from aqueue.options import (
    DEFAULT_JOB_TIMEOUT,
    DEFAULT_RESULT_TTL,
    KEEP_FOREVER,
    OPTION_NAMES,
    QueueDefaults,
    split_options,
)
from aqueue.serializers import Serializer, get_serializer


class QueueBase:
    def __init__(self, name: str, *, serializer: str | Serializer | None,
                 job_timeout: float = DEFAULT_JOB_TIMEOUT, result_ttl: int = DEFAULT_RESULT_TTL,
                 failure_ttl: int = KEEP_FOREVER, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        self.ops = QueueOps(name)
        self.name = name
        self.keys = self.ops.keys
        self.serializer = get_serializer(serializer)
        self.encoder = JobEncoder(name, self.serializer,
                                  QueueDefaults(job_timeout, result_ttl, failure_ttl),
                                  max_payload)
        self._closed = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def _check_open(self) -> None:
        if self._closed:
            raise QueueClosed(f"{self!r} is closed")

    def _draft(self, fn: FunctionRef, args: Sequence[Any], kwargs: dict[str, Any]) -> Draft:
        """``fn(*args, **kwargs)``, with option names picked out of ``kwargs``."""
        if not kwargs or OPTION_NAMES.isdisjoint(kwargs):  # the usual case, without a copy
            return self.encoder.draft(fn, args, kwargs, {})
        options, kwargs = split_options(kwargs)
        return self.encoder.draft(fn, args, kwargs, dict(options))

    def _draft_call(self, fn: FunctionRef, args: Sequence[Any],
                    kwargs: dict[str, Any] | None, options: dict[str, Any]) -> Draft:
        return self.encoder.draft(fn, args, kwargs or {}, options)

    def _draft_at(self, when: datetime | float, fn: FunctionRef, args: Sequence[Any],
                  kwargs: dict[str, Any]) -> Draft:
        options, kwargs = split_options(kwargs)
        return self.encoder.draft(fn, args, kwargs, dict(options), due_mode="at",
                                  due=due_at(when))

    def _draft_in(self, delay: timedelta | float, fn: FunctionRef, args: Sequence[Any],
                  kwargs: dict[str, Any]) -> Draft:
        seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay)
        options, kwargs = split_options(kwargs)
        return self.encoder.draft(fn, args, kwargs, dict(options), due_mode="in", due=seconds)

    def _drafts_of(self, jobs: Sequence[Any]) -> list[Draft]:
        drafts = []
        for job in jobs:
            if job.queue_name != self.name or job.draft is None:
                raise ValueError(f"job {job.id} was not prepared by {self!r}")
            drafts.append(job.draft)
        return drafts


__all__ = ["DEFAULT_MAX_PAYLOAD", "QueueBase"]
