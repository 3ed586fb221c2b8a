"""The plugin interface, and the context every plugin gets from its worker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from aqueue.store.errors import TRANSIENT_ERRORS
from aqueue.store.keys import QueueKeys
from aqueue.store.store import Store
from aqueue.worker.backoff import Backoff
from aqueue.worker.groups import QueueGroup


@dataclass(frozen=True)
class PluginContext:
    """What a plugin may use of the worker that runs it."""

    store: Store
    worker_name: str
    queues: Sequence[QueueKeys]
    groups: Sequence[QueueGroup]
    lease: float
    max_deliveries: int
    # The tasks running jobs now, by job id (read on demand, e.g. for a job's live stack).
    running_tasks: Callable[[], Mapping[str, asyncio.Task[None]]] = lambda: {}
    # Cancel the task running a job (id, claim token); False if this worker runs none.
    cancel_job: Callable[[str, str], bool] = lambda job_id, token: False


class Plugin(Protocol):
    """A background duty of a worker: ``run`` works until it is cancelled."""

    name: str

    async def run(self, context: PluginContext) -> None: ...


async def repeat(step: Callable[[], Awaitable[float]], logger: logging.Logger,
                 what: str) -> None:
    """Call ``step`` again after the delay it returns; wait out Redis errors with backoff."""
    backoff = Backoff()
    while True:
        try:
            delay = await step()
            backoff.reset()
        except TRANSIENT_ERRORS as exc:
            delay = backoff.log(logger, what, exc)
        if delay > 0:
            await asyncio.sleep(delay)
