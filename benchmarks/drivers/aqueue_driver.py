"""aqueue producer (runs in the project venv)."""

from __future__ import annotations

from typing import Any

from aqueue import AsyncQueue, Job, Queue, SyncJob
from aqueue.store.server import ping
from benchmarks.drivers.base import main
from benchmarks.tasks.aqueue_tasks import noop, sink, sleep_job, stamp

FUNCS: dict[str, Any] = {"noop": noop, "sleep": sleep_job, "stamp": stamp, "sink": sink}


class AqueueAdapter:
    has_bulk = True

    def __init__(self, url: str) -> None:
        self.url = url
        self.queue = AsyncQueue("bench", url=url)
        self._sync: Queue | None = None

    @property
    def sync(self) -> Queue:
        """The sync producer, for the sync scenarios only (its own connections)."""
        if self._sync is None:
            self._sync = Queue("bench", url=self.url)
        return self._sync

    async def connect(self) -> None:
        await ping(self.queue.store)

    async def close(self) -> None:
        await self.queue.close()
        if self._sync is not None:
            self._sync.close()

    async def enqueue(self, kind: str, *args: Any) -> None:
        await self.queue.enqueue(FUNCS[kind], *args)

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

    async def submit(self, kind: str) -> Job[Any]:
        return await self.queue.enqueue(FUNCS[kind])

    async def result(self, handle: Job[Any], timeout: float) -> Any:
        return await handle.result(timeout=timeout)

    def enqueue_sync(self, kind: str, *args: Any) -> None:
        self.sync.enqueue(FUNCS[kind], *args)

    def submit_sync(self, kind: str) -> SyncJob[Any]:
        return self.sync.enqueue(FUNCS[kind])

    def result_sync(self, handle: SyncJob[Any], timeout: float) -> Any:
        return handle.result(timeout=timeout)


if __name__ == "__main__":
    main(AqueueAdapter)
