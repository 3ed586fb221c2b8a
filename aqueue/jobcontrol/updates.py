"""A running job's own writes: ``update_meta`` and ``set_progress`` (``current_job()``).

They return at once, from a coroutine or a plain ``def`` job's thread: the worker writes
them in order, one script call at a time per job (updates that pile up meanwhile go
together, the last progress winning), and before the job's outcome is recorded. Only
under the job's claim: a run that lost its job writes nothing.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import logging
from typing import TYPE_CHECKING, Any

from aqueue.jobcontrol.options import encode_meta, finite
from aqueue.jobcontrol.record import Progress
from aqueue.log_text import clip, clip_message
from aqueue.store.errors import TRANSIENT_ERRORS
from aqueue.store.keys import QueueKeys

if TYPE_CHECKING:
    from aqueue.store.store import Store
    from aqueue.worker.executor import Claimed

logger = logging.getLogger("aqueue.worker")
MAX_MESSAGE = 1000

# The worker's writer, set in its fetch loop's context (so every job task inherits it).
writer: contextvars.ContextVar[JobUpdates | None] = contextvars.ContextVar(
    "aqueue_job_updates", default=None)


@functools.lru_cache(maxsize=256)
def _script_keys(queue: str) -> list[str]:
    return QueueKeys.for_queue(queue).script_keys()


class JobUpdates:
    """The writes of the jobs of one worker, by claim token."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pending: dict[str, dict[str, tuple[str, bool]]] = {}
        self.writing: dict[str, asyncio.Task[None]] = {}
        self.meta: dict[str, dict[str, Any]] = {}

    def bind(self) -> None:
        """Called in the worker's fetch loop: jobs started from here on can write."""
        self.loop = asyncio.get_running_loop()
        writer.set(self)

    def put(self, claimed: Claimed, field: str, value: str, publish: bool = False) -> None:
        """Queue a write (from the loop or a job's thread)."""
        loop = self.loop
        if loop is None:
            raise RuntimeError("this worker does not take job updates")
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is loop:
            self._put(claimed, field, value, publish)
        else:
            loop.call_soon_threadsafe(self._put, claimed, field, value, publish)

    def merged_meta(self, claimed: Claimed, values: dict[str, Any]) -> str:
        meta = self.meta.get(claimed.token)
        if meta is None:
            raw = claimed.fields.get(b"meta")
            meta = json.loads(raw) if raw else {}
            self.meta[claimed.token] = meta
        meta.update(values)
        return encode_meta(meta)

    def _put(self, claimed: Claimed, field: str, value: str, publish: bool) -> None:
        self.pending.setdefault(claimed.token, {})[field] = (value, publish)
        if claimed.token not in self.writing:
            assert self.loop is not None
            self.writing[claimed.token] = self.loop.create_task(
                self._write(claimed), context=contextvars.Context())

    async def _write(self, claimed: Claimed) -> None:
        try:
            while fields := self.pending.pop(claimed.token, None):
                argv: list[Any] = [claimed.id, claimed.token]
                for name, (value, publish) in fields.items():
                    argv += [name, value, "1" if publish else "0"]
                try:
                    await self.store.script("job_set", _script_keys(claimed.queue_name), argv)
                except TRANSIENT_ERRORS as exc:
                    logger.warning("job %s: could not write its %s: %s", clip(claimed.id),
                                   " and ".join(fields), clip_message(exc))
        finally:
            self.writing.pop(claimed.token, None)

    async def flush(self, claimed: Claimed) -> None:
        """Wait for the job's queued writes (before its outcome is recorded)."""
        task = self.writing.get(claimed.token)
        if task is not None:
            await asyncio.shield(task)
        self.meta.pop(claimed.token, None)


def _running() -> tuple[JobUpdates, Claimed]:
    from aqueue.worker.executor import _run

    run, updates = _run.get(), writer.get()
    if run is None or updates is None:
        raise RuntimeError("job updates are only available inside a job run by a worker")
    return updates, run.claimed


def update_meta(values: dict[str, Any]) -> None:
    """Merge ``values`` into the running job's meta."""
    updates, claimed = _running()
    encode_meta(values)  # a bad value fails here, in the job, not in the writer
    updates.put(claimed, "meta", updates.merged_meta(claimed, values))


def set_progress(value: float, total: float | None = None, message: str | None = None) -> None:
    """Record (and announce) the running job's progress."""
    progress = Progress(finite(value, "set_progress"),
                        None if total is None else finite(total, "set_progress's total"),
                        message)
    if progress.total is not None and progress.total <= 0:
        raise ValueError(f"set_progress's total must be positive, got {total!r}")
    if message is not None and not isinstance(message, str):
        raise TypeError(f"set_progress's message takes a string, got {type(message).__name__}")
    if message is not None and len(message) > MAX_MESSAGE:
        raise ValueError(f"set_progress's message is over {MAX_MESSAGE} characters")
    updates, claimed = _running()
    updates.put(claimed, "progress", progress.to_json(), publish=True)
