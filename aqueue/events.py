"""One in-process event stream: what a worker does, for logging, metrics and tracing.

A worker emits an ``Event`` at each step of a job and of its own life; listeners
subscribe to its ``EventBus`` (``worker.events.subscribe(fn)``) instead of being patched
into the worker. Listeners run synchronously in the emitting coroutine: the job events
``job.started`` and ``job.ran`` run inside the job's own task, so a tracer can make its
span current for the job's code. A listener that raises is logged and kept.

Kinds:

=================  ==========================================================================
``job.started``    a claimed job is about to run (``attempt``; ``data``: ``timeout``, and
                   the W3C ``traceparent`` and ``tracestate`` it was enqueued with, as bytes,
                   or None)
``job.ran``        its run ended (``outcome``: finished, failed, retry, requeue, canceled,
                   snooze...; ``duration``; ``data``: ``exc_type``, ``exc_message``,
                   ``traceback``, ``retry_in``, ``max_attempts``)
``job.recorded``   its outcome was written to Redis (``outcome`` as above, or ``rejected``:
                   the lease was lost and another worker has the job; ``gone``: the job no
                   longer exists)
``lease.lost``     a renewal found another claim on the job
``worker.started`` / ``worker.stopped``
``redis.lost`` / ``redis.back``  (``data``: ``what``; ``downtime`` on ``redis.back``)
=================  ==========================================================================
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("aqueue.events")


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    worker: str
    queue: str | None = None
    job_id: str | None = None
    func: str | None = None
    attempt: int = 0
    outcome: str | None = None
    duration: float | None = None
    at: float = field(default_factory=time.time)
    data: Mapping[str, Any] = field(default_factory=dict)


Listener = Callable[[Event], None]


class EventBus:
    """Listeners of one worker's events. ``if bus:`` is cheap: emitters build an event
    only when someone listens."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._failed: set[int] = set()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every event; returns a function that unsubscribes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def __bool__(self) -> bool:
        return bool(self._listeners)

    def emit(self, event: Event) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                if id(listener) not in self._failed:  # once per listener, not per event
                    self._failed.add(id(listener))
                    logger.exception("event listener %r failed on %s (further failures of "
                                     "this listener are not logged)", listener, event.kind)
