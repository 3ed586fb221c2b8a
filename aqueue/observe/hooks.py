"""Where the clients look for observability that is turned on: ``None`` while it is off,
so the cost on the enqueue path is one check. Nothing here imports OpenTelemetry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from aqueue.client.encoding import Draft
    from aqueue.client.ops import Op


class EnqueueTracer(Protocol):
    def enqueue(self, queue: str, drafts: Sequence[Draft],
                send: Callable[[Sequence[Draft]], Op[float]]) -> Op[float]:
        """Run ``send(drafts)`` (the enqueue operation) inside a span, with the span's
        trace context written into each draft."""
        ...


enqueue_tracer: EnqueueTracer | None = None  # set by aqueue.observe.tracing.instrument()
