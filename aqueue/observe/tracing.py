"""OpenTelemetry tracing (extra ``otel``): a job runs in the trace of the code that
enqueued it. See docs/tracing.md.

- ``instrument()``: every enqueue made while a span is current gets a PRODUCER span
  ``enqueue <queue>``, and each job it writes carries that span's W3C ``traceparent``
  (and ``tracestate``) as job fields.
- ``instrument_worker(worker)``: each run gets a CONSUMER span ``run <function>``, a child
  of the enqueue span (a root span for a job enqueued outside any trace). The span is
  current while the job's code runs, in its coroutine or its thread, so the job's own
  spans, and the jobs it enqueues, join the trace.

Off, the cost is one check per enqueue call; without this module imported, none.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    from opentelemetry import context as otel_context
    from opentelemetry import trace
    from opentelemetry.context import Context
    from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, TracerProvider
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("aqueue.observe.tracing needs OpenTelemetry: pip install "
                      "'aqueue-redis[otel]'", name="opentelemetry") from exc

from aqueue.events import Event
from aqueue.observe import hooks

if TYPE_CHECKING:
    from aqueue.client.encoding import Draft
    from aqueue.client.ops import Op
    from aqueue.worker.worker import Worker

SYSTEM = "aqueue"
_PROPAGATOR = TraceContextTextMapPropagator()


def _tracer(provider: TracerProvider | None) -> Tracer:
    try:
        own_version = version("aqueue-redis")
    except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
        own_version = ""
    return trace.get_tracer("aqueue", own_version, tracer_provider=provider)


def instrument(*, tracer_provider: TracerProvider | None = None) -> None:
    """Trace enqueues in this process (default: the global tracer provider)."""
    hooks.enqueue_tracer = EnqueueSpans(_tracer(tracer_provider))


def uninstrument() -> None:
    """Stop tracing enqueues (workers' run spans stop with ``instrument_worker``'s undo)."""
    hooks.enqueue_tracer = None


def instrument_worker(worker: Worker, *, tracer_provider: TracerProvider | None = None
                      ) -> Callable[[], None]:
    """A span for each run of ``worker``; enqueues are traced too (``instrument``), so that
    jobs enqueued by jobs join the trace. Returns a function that stops the run spans."""
    tracer = _tracer(tracer_provider)
    hooks.enqueue_tracer = EnqueueSpans(tracer)
    return worker.events.subscribe(RunSpans(tracer))


class EnqueueSpans:
    """The enqueue hook: a span around the write, its context in every job written."""

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer

    def enqueue(self, queue: str, drafts: Sequence[Draft],
                send: Callable[[Sequence[Draft]], Op[float]]) -> Op[float]:
        if not trace.get_current_span().get_span_context().is_valid:
            return (yield from send(drafts))  # no trace to carry on
        attributes: dict[str, Any] = {
            "messaging.system": SYSTEM, "messaging.operation.type": "send",
            "messaging.destination.name": queue}
        if len(drafts) == 1:
            attributes["messaging.message.id"] = drafts[0].id
            attributes["aqueue.function"] = drafts[0].func
        else:
            attributes["messaging.batch.message_count"] = len(drafts)
        span = self.tracer.start_span(f"enqueue {queue}", kind=SpanKind.PRODUCER,
                                      attributes=attributes)
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
        for draft in drafts:
            draft.trace = carrier
        try:
            return (yield from send(drafts))
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            raise
        finally:
            span.end()


_OpenRun = tuple[Span, contextvars.Token[Context], asyncio.Task[Any] | None]


class RunSpans:
    """A worker event listener: ``job.started`` opens the run's span and makes it current
    in the job's task; ``job.ran`` (in the same task) ends it with the outcome. A job
    handed back at shutdown ends its span when the handback is recorded."""

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer
        self._open: dict[str, _OpenRun] = {}

    def __call__(self, event: Event) -> None:
        if event.kind == "job.started":
            self._start(event)
        elif event.kind == "job.ran":
            self._end(event.job_id, event.outcome, event.data)
        elif event.kind == "job.recorded" and event.outcome == "requeue":
            self._end(event.job_id, "requeue", {})
        elif event.kind == "worker.stopped":
            for job_id in list(self._open):
                self._end(job_id, "unknown", {})

    def _start(self, event: Event) -> None:
        carrier = {name: raw.decode("ascii", "replace")
                   for name in ("traceparent", "tracestate")
                   if isinstance(raw := event.data.get(name), bytes)}
        parent = _PROPAGATOR.extract(carrier) if carrier else Context()
        span = self.tracer.start_span(
            f"run {event.func}", context=parent, kind=SpanKind.CONSUMER, attributes={
                "messaging.system": SYSTEM, "messaging.operation.type": "process",
                "messaging.destination.name": event.queue or "",
                "messaging.message.id": event.job_id or "",
                "aqueue.function": event.func or "", "aqueue.attempt": event.attempt})
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        self._open[event.job_id or ""] = (span, token, _current_task())

    def _end(self, job_id: str | None, outcome: str | None, data: Mapping[str, Any]) -> None:
        entry = self._open.pop(job_id or "", None)
        if entry is None:
            return  # it failed before it started (no span), or was ended already
        span, token, task = entry
        if task is not None and task is _current_task():
            otel_context.detach(token)
        span.set_attribute("aqueue.outcome", outcome or "unknown")
        if outcome in ("failed", "retry"):
            exc_type = data.get("exc_type") or "Error"
            message = data.get("exc_message") or ""
            span.add_event("exception", {"exception.type": exc_type,
                                         "exception.message": message,
                                         "exception.stacktrace": data.get("traceback") or ""})
            span.set_status(Status(StatusCode.ERROR, f"{exc_type}: {message}"))
        span.end()


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None
