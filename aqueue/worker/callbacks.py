"""``on_success`` / ``on_failure``: run by the worker once the job's outcome is recorded.

A callback is a function the worker allows (like a job's: ``--import`` / ``functions=``);
it gets the job (a ``JobInfo``) and the result, or the ``JobFailed`` error. A failing
callback is logged and recorded on the job (``callback_error``); the job's own outcome
stands. Callbacks run beside the worker's jobs, not in their slots.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any

from aqueue.errors import JobFailed
from aqueue.functions import FunctionRegistry
from aqueue.jobcontrol.updates import JobUpdates
from aqueue.log_text import clip, clip_message
from aqueue.serializers import Serializer
from aqueue.worker.executor import Ack, JobInfo
from aqueue.worker.running import _field

logger = logging.getLogger("aqueue.worker")
CALLBACK_TIMEOUT = 60.0
DRAIN_TIMEOUT = 10.0


class Callbacks:
    def __init__(self, registry: FunctionRegistry, serializer: Serializer,
                 updates: JobUpdates) -> None:
        self.registry = registry
        self.serializer = serializer
        self.updates = updates
        self.running: set[asyncio.Task[None]] = set()

    def recorded(self, ack: Ack, what: str) -> None:
        """An outcome was written: start the job's callback for it, if it has one."""
        if what == "finished":
            name = ack.claimed.fields.get(b"on_success")
        elif what == "failed":
            name = ack.claimed.fields.get(b"on_failure")
        else:
            return
        if not name:
            return
        task = asyncio.get_running_loop().create_task(
            self._run(name.decode("utf-8", "replace"), ack, what), context=contextvars.Context())
        self.running.add(task)
        task.add_done_callback(self.running.discard)

    async def _run(self, name: str, ack: Ack, what: str) -> None:
        claimed = ack.claimed
        info = JobInfo(claimed.id, claimed.queue_name, claimed.func, claimed.attempt,
                       int(claimed.fields.get(b"deliveries", 0)) + 1)
        try:
            fn = self.registry.resolve(name)
            second: Any
            if what == "finished":
                payload = _field(ack.fields, "result")
                second = None if payload is None else self.serializer.loads(payload)
            else:
                second = JobFailed(claimed.id, str(_field(ack.fields, "exc_type") or "Error"),
                                   str(_field(ack.fields, "exc_message") or ""),
                                   str(_field(ack.fields, "exc_traceback") or ""))
            async with asyncio.timeout(CALLBACK_TIMEOUT):
                if fn.is_async:
                    await fn.call(info, second)
                else:
                    await asyncio.to_thread(fn.call, info, second)
        except Exception as exc:
            kind = "timed out" if isinstance(exc, TimeoutError) else "failed"
            error = f"{name}: {type(exc).__name__}: {exc}"
            logger.warning("job %s (%s): its %s callback %s %s: %s", clip(claimed.id),
                           clip(claimed.func), "on_success" if what == "finished"
                           else "on_failure", clip(name), kind, clip_message(exc))
            self.updates.put(claimed, "callback_error", error[:2000])

    async def drain(self, timeout: float = DRAIN_TIMEOUT) -> None:
        """At shutdown: let running callbacks (and the errors they record) finish."""
        if self.running:
            await asyncio.wait(list(self.running), timeout=timeout)
        writing = list(self.updates.writing.values())
        if writing:
            await asyncio.wait(writing, timeout=timeout)
