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
    """Listeners of one worker's events. A listener may ask for some kinds only, and for
    ``job.ran`` / ``job.recorded`` some outcomes only; emitters ask ``wants(kind, outcome)``
    first and build an event only when someone listens, so a job nobody observes pays
    nothing."""

    def __init__(self) -> None:
        self._listeners: list[tuple[Listener, frozenset[str] | None, frozenset[str] | None]] = []
        self._wanted: dict[tuple[str, str | None], bool] = {}
        self._failed: set[int] = set()

    def subscribe(self, listener: Listener, kinds: set[str] | None = None,
                  outcomes: set[str] | None = None) -> Callable[[], None]:
        """Call ``listener`` with every event (of ``kinds``, with ``outcomes``: ``None`` for
        all); returns a function that unsubscribes it."""
        entry = (listener, frozenset(kinds) if kinds else None,
                 frozenset(outcomes) if outcomes else None)
        self._listeners.append(entry)
        self._wanted.clear()

        def unsubscribe() -> None:
            if entry in self._listeners:
                self._listeners.remove(entry)
                self._wanted.clear()

        return unsubscribe

    def __bool__(self) -> bool:
        return bool(self._listeners)

    def wants(self, kind: str, outcome: str | None = None) -> bool:
        """Whether anyone listens to this kind (and outcome) of event."""
        key = (kind, outcome)
        wanted = self._wanted.get(key)
        if wanted is None:
            wanted = self._wanted[key] = any(
                (kinds is None or kind in kinds)
                and (outcomes is None or outcome is None or outcome in outcomes)
                for _, kinds, outcomes in self._listeners)
        return wanted

    def emit(self, event: Event) -> None:
        for listener, kinds, outcomes in self._listeners:
            if kinds is not None and event.kind not in kinds:
                continue
            if outcomes is not None and event.outcome is not None and event.outcome not in outcomes:
                continue
            try:
                listener(event)
            except Exception:
                if id(listener) not in self._failed:  # once per listener, not per event
                    self._failed.add(id(listener))
                    logger.exception("event listener %r failed on %s (further failures of "
                                     "this listener are not logged)", listener, event.kind)
