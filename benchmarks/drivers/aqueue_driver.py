"""aqueue producer (runs in the project venv)."""

from __future__ import annotations

from typing import Any

from aqueue import AsyncQueue
from aqueue.store.server import ping
from benchmarks.drivers.base import main
from benchmarks.tasks.aqueue_tasks import noop, sleep_job

FUNCS: dict[str, Any] = {"noop": noop, "sleep": sleep_job}


class AqueueAdapter:
    has_bulk = True

    def __init__(self, url: str) -> None:
        self.queue = AsyncQueue("bench", url=url)

    async def connect(self) -> None:
        await ping(self.queue.store)

    async def close(self) -> None:
        await self.queue.close()

    async def enqueue(self, kind: str) -> None:
        await self.queue.enqueue(FUNCS[kind])

    async def enqueue_bulk(self, kind: str, n: int) -> None:
        fn = FUNCS[kind]
        await self.queue.enqueue_many([self.queue.prepare(fn) for _ in range(n)])

    async def progress(self) -> tuple[int | None, int]:
        # The finished/failed counters are bumped by the same script that stores the results.
        c = await self.queue.counts()
        return c.queued, c.finished + c.failed

    async def roundtrip(self) -> None:
        job = await self.queue.enqueue(noop)
        await job.result(timeout=30)  # one subscription per client, no polling


if __name__ == "__main__":
    main(AqueueAdapter)
