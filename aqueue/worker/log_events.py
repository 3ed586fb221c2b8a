"""The worker's log lines about jobs, as a listener of its event stream: a failure with
its exception type and message (the traceback too at DEBUG, or with ``tracebacks=True``),
a retry with its attempt number and delay, an outcome another worker took over."""

from __future__ import annotations

import logging

from aqueue.events import Event
from aqueue.log_text import clip

logger = logging.getLogger("aqueue.worker")


class JobLogger:
    def __init__(self, *, tracebacks: bool = False) -> None:
        self.tracebacks = tracebacks

    def __call__(self, event: Event) -> None:
        if event.kind != "job.ran" or event.outcome not in ("failed", "retry"):
            return
        data = event.data
        what = f"{clip(data.get('exc_type') or 'Error')}: {clip(data.get('exc_message') or '')}"
        job = f"job {clip(event.job_id)} ({clip(event.func or '?')})"
        if event.outcome == "retry":
            logger.warning("%s failed (attempt %d of %d): %s; retrying in %.3g s", job,
                           event.attempt, data.get("max_attempts", event.attempt + 1), what,
                           data.get("retry_in", 0.0))
        else:
            attempts = f" after {event.attempt} attempts" if event.attempt > 1 else ""
            logger.error("%s failed%s: %s", job, attempts, what)
        traceback = data.get("traceback")
        if traceback and (self.tracebacks or logger.isEnabledFor(logging.DEBUG)):
            logger.log(logging.ERROR if self.tracebacks else logging.DEBUG,
                       "%s traceback:\n%s", job, clip(traceback, 20_000))
