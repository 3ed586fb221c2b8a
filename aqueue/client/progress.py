"""Following a job's progress as it is reported: ``Job.progress_updates()`` (and the sync
``SyncJob.progress_updates()``).

The worker publishes each ``set_progress`` on the job's progress channel (sharded pub/sub,
in the queue's slot) as it records it. A follower subscribes there through the queue's
``ResultListener`` (no connection of its own), reads the last progress, then yields what
comes, until the job ends (the same wait as ``Job.result()``).
"""

from __future__ import annotations

import asyncio
import queue as queues
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from aqueue.jobcontrol.record import Progress

if TYPE_CHECKING:
    from aqueue.client.async_queue import AsyncQueue
    from aqueue.client.sync_queue import Queue

RECHECK = 5.0  # seconds a sync follower waits for news before it reads the job again


async def follow_progress(queue: AsyncQueue, job_id: str) -> AsyncIterator[Progress]:
    """Each new progress of the job, the last one reported first; ends with the job."""
    listener, channel = queue.listener, queue.ops.keys.progress(job_id)
    inbox: asyncio.Queue[bytes] = asyncio.Queue()
    ended: asyncio.Future[Any] | None = None
    try:
        await listener.follow(channel, inbox)  # first, so that no update slips past
        record = await queue.fetch_job(job_id)
        last = record.progress
        if last is not None:
            yield last
        if record.status.is_done:
            return
        ended = asyncio.ensure_future(listener.wait(
            queue.ops, job_id, None, lambda op: queue._run(op, "progress_updates on")))
        while True:
            get = asyncio.ensure_future(inbox.get())
            done, _ = await asyncio.wait({get, ended}, return_when=asyncio.FIRST_COMPLETED)
            if get not in done:
                get.cancel()
                while not inbox.empty():  # published before the end: still news
                    progress = Progress.from_json(inbox.get_nowait())
                    if progress is not None and progress != last:
                        last = progress
                        yield progress
                return
            payload = get.result()
            if payload == b"recheck":  # the subscription was lost: take it up again
                await listener.follow(channel, inbox)
                continue
            progress = Progress.from_json(payload)
            if progress is not None and progress != last:
                last = progress
                yield progress
    finally:
        listener.unfollow(channel, inbox)
        if ended is not None:
            ended.cancel()
            await asyncio.gather(ended, return_exceptions=True)


def follow_progress_sync(queue: Queue, job_id: str) -> Iterator[Progress]:
    """``follow_progress`` for the sync ``Queue``: the same channels, through its listener
    thread; the job's end comes on its events channel (or is read every ``RECHECK`` s)."""
    from aqueue.errors import QueueClosed

    listener = queue.listener
    progress_channel, events = queue.ops.keys.progress(job_id), queue.ops.keys.events(job_id)
    inbox: queues.SimpleQueue[tuple[bytes, bytes]] = queues.SimpleQueue()
    last: Progress | None = None
    try:
        listener.follow(progress_channel, inbox)
        listener.follow(events, inbox)
        record = queue.fetch_job(job_id)
        while True:
            if record.progress is not None and record.progress != last:
                last = record.progress
                yield last
            if record.status.is_done:
                return
            try:
                channel, payload = inbox.get(timeout=RECHECK)
            except queues.Empty:
                channel, payload = events, b""
            if payload == b"closed":
                raise QueueClosed("the queue was closed while following progress")
            if payload == b"recheck":  # the subscription was lost: take it up again
                listener.follow(channel, inbox)
            elif channel == progress_channel:
                progress = Progress.from_json(payload)
                if progress is not None and progress != last:
                    last = progress
                    yield progress
                continue
            record = queue.fetch_job(job_id)  # it ended, or news may have been missed
    finally:
        listener.unfollow(progress_channel, inbox)
        listener.unfollow(events, inbox)
