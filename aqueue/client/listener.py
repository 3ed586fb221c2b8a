"""Waiting for job results: one subscriber connection per server for all the waiters of a
client, however many there are.

A waiter subscribes to its job's events channel (sharded pub/sub, in the queue's slot),
then runs ``watch.lua``, which returns the job if it has ended or flags it so that the
script that ends it publishes "end" on the channel. Subscribing first means no end can
slip between the check and the wait. When a subscriber connection is lost (or a slot
moves), every waiter on it looks again and subscribes anew.

Streams (``follow``) share the same connections: every message on a followed channel is
put in the follower's inbox (a job's progress: ``aqueue/client/progress.py``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from redis.exceptions import ResponseError

from aqueue.client.ops import Call, Op, QueueOps
from aqueue.errors import QueueClosed
from aqueue.store.errors import redirect_of
from aqueue.store.pubsub import Subscriber
from aqueue.store.store import Store
from aqueue.store.urls import Address

Runner = Callable[[Op[Any]], Awaitable[Any]]
MAX_REDIRECTS = 8


ENDED = (b"finished", b"failed", b"canceled")


def _ended(ops: QueueOps, job_id: str) -> Op[dict[bytes, bytes] | None]:
    """The job's hash if it has ended, in one HGETALL (no script: a woken waiter's job has
    ended, unless it was requeued since); None sends the waiter back to ``watch``."""
    reply = yield Call(("HGETALL", ops.keys.job(job_id)), ops.keys.queued)
    data: dict[bytes, bytes] = dict(zip(reply[::2], reply[1::2], strict=True))
    return data if data.get(b"status") in ENDED else None


class ResultListener:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._subscribers: dict[Address, Subscriber] = {}
        self._connecting: dict[Address, asyncio.Future[Subscriber]] = {}
        self._waiters: dict[bytes, set[asyncio.Future[bytes]]] = {}
        self._streams: dict[bytes, set[asyncio.Queue[bytes]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def connections(self) -> int:
        return sum(1 for s in self._subscribers.values() if s.connected)

    async def wait(self, ops: QueueOps, job_id: str, timeout: float | None,
                   run: Runner) -> dict[bytes, bytes]:
        """The job's hash once it has ended; ``TimeoutError`` after ``timeout`` seconds."""
        self._bind_loop()
        deadline = None if timeout is None else time.monotonic() + timeout
        channel = ops.keys.events(job_id)
        waiters = self._waiters.setdefault(channel, set())
        wake: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        waiters.add(wake)
        notice = b""
        try:
            while True:
                data: dict[bytes, bytes] | None = None
                if notice == b"end":  # announced by the script that ended it: read it back
                    data = await run(_ended(ops, job_id))
                if data is None:
                    await self._subscribe(channel)
                    data = await run(ops.watch(job_id))
                if data is not None:
                    return data
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"job {job_id} did not finish within {timeout} s")
                try:
                    async with asyncio.timeout(remaining):
                        notice = await wake
                except TimeoutError:
                    raise TimeoutError(f"job {job_id} did not finish within {timeout} s") from None
                waiters.discard(wake)
                wake = asyncio.get_running_loop().create_future()
                waiters.add(wake)
        finally:
            waiters.discard(wake)
            if not waiters:
                self._waiters.pop(channel, None)  # close() may have cleared them already
                if channel not in self._streams:
                    self._unsubscribe(channel)

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (asyncio.run again): start afresh
            self.close()
            self._loop = loop

    async def _subscribe(self, channel: bytes) -> None:
        for attempt in range(MAX_REDIRECTS + 1):
            address = await self.store.router.address_for(channel)
            subscriber = self._subscribers.get(address)
            if subscriber is None or not subscriber.connected:
                subscriber = await self._open(address)
            try:
                await subscriber.subscribe([channel])
                return
            except ResponseError as exc:  # MOVED: a stale slot map, or a redis:// URL that
                redirect = redirect_of(exc)  # points at another cluster node
                subscriber.channels.discard(channel)
                if redirect is None or attempt == MAX_REDIRECTS:
                    raise
                self.store.learn(address, redirect)
                if redirect.ask:  # the slot is migrating: wait until it has landed
                    await asyncio.sleep(0.05 * (attempt + 1))

    async def _open(self, address: Address) -> Subscriber:
        pending = self._connecting.get(address)
        if pending is None:
            pending = self._connecting[address] = asyncio.ensure_future(self._connect(address))
        try:
            return await asyncio.shield(pending)
        finally:
            if pending.done():
                self._connecting.pop(address, None)

    async def _connect(self, address: Address) -> Subscriber:
        subscriber = Subscriber(
            self.store.config, address, self._on_message, sharded=True,
            on_unsubscribed=self._on_moved, name=f"{self.store.name or 'aqueue'}:results")
        subscriber.on_lost = lambda: self._on_lost(subscriber)
        await subscriber.connect()
        self._subscribers[address] = subscriber
        return subscriber

    async def follow(self, channel: bytes, inbox: asyncio.Queue[bytes]) -> None:
        """Put every message on ``channel`` in ``inbox`` (b"recheck": the subscription
        was lost; follow again) until ``unfollow``."""
        self._bind_loop()
        self._streams.setdefault(channel, set()).add(inbox)
        await self._subscribe(channel)

    def unfollow(self, channel: bytes, inbox: asyncio.Queue[bytes]) -> None:
        inboxes = self._streams.get(channel, set())
        inboxes.discard(inbox)
        if not inboxes:
            self._streams.pop(channel, None)
            if channel not in self._waiters:
                self._unsubscribe(channel)

    def _on_message(self, channel: bytes, payload: bytes) -> None:
        for inbox in self._streams.get(channel, ()):
            inbox.put_nowait(payload)
        for wake in self._waiters.get(channel, ()):
            if not wake.done():
                wake.set_result(payload)

    def _on_moved(self, channel: bytes) -> None:
        self._on_message(channel, b"recheck")

    def _on_lost(self, subscriber: Subscriber) -> None:
        if self._subscribers.get(subscriber.address) is subscriber:
            del self._subscribers[subscriber.address]
        for channel in subscriber.channels:
            self._on_message(channel, b"recheck")

    def _unsubscribe(self, channel: bytes) -> None:
        for subscriber in self._subscribers.values():
            if channel in subscriber.channels:
                subscriber.unsubscribe([channel])

    def close(self) -> None:
        for subscriber in self._subscribers.values():
            subscriber.close()
        self._subscribers.clear()
        self._connecting.clear()
        for waiters in self._waiters.values():
            for wake in waiters:
                if not wake.done():
                    wake.set_exception(QueueClosed("the queue was closed while waiting"))
        self._waiters.clear()
