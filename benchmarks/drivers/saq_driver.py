"""SAQ 0.26 producer."""

from __future__ import annotations

from typing import Any

from saq import Job, Status

from benchmarks.drivers.base import main
from benchmarks.tasks.saq_tasks import settings

FUNCS = {"noop": "noop", "sleep": "sleep_job", "stamp": "stamp", "sink": "sink"}
WAKEUP_TIMEOUT = 1.0  # seconds to wait for SAQ's completion notice before re-reading the job


class SaqAdapter:
    has_bulk = False  # SAQ has no bulk enqueue (Queue.map enqueues one by one)

    def __init__(self, url: str) -> None:
        self.queue = settings["queue"]
        self.total = 0
        self.missed_wakeups = 0

    async def connect(self) -> None:
        await self.queue.connect()

    async def close(self) -> None:
        await self.queue.disconnect()

    async def enqueue(self, kind: str, *args: Any) -> None:
        await self.queue.enqueue(FUNCS[kind], **({"data": args[0]} if args else {}))
        self.total += 1

    async def enqueue_bulk(self, kind: str, n: int) -> None:
        raise NotImplementedError

    async def progress(self) -> tuple[int | None, int]:
        waiting = await self.queue.count("queued")
        incomplete = await self.queue.count("incomplete")
        return waiting, self.total - incomplete

    async def roundtrip(self) -> None:
        job = await self.queue.enqueue("noop")
        assert job is not None
        try:
            await job.refresh(until_complete=WAKEUP_TIMEOUT)  # waits on SAQ's pub/sub updates
        except TimeoutError:
            # SAQ re-subscribes (PSUBSCRIBE) for every wait; a job that completes before the
            # subscription is in place is never announced. Re-read the job instead.
            await job.refresh()
            if job.status not in (Status.COMPLETE, Status.FAILED):
                raise
            self.missed_wakeups += 1

    async def submit(self, kind: str) -> Job:
        job = await self.queue.enqueue(FUNCS[kind])
        assert job is not None
        self.total += 1
        return job

    async def result(self, handle: Job, timeout: float) -> Any:
        await handle.refresh(until_complete=timeout)  # pub/sub, as in roundtrip
        if handle.status != Status.COMPLETE:
            raise RuntimeError(f"job {handle.status}")
        return handle.result


if __name__ == "__main__":
    main(SaqAdapter)
