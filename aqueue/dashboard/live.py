"""Live updates by push: server-sent events, one reader of Redis per view however many
tabs show it.

A ``Topic`` (the overview, one queue's page as filtered, the workers, a bulk task) reads
its data every ``interval`` seconds while at least one browser listens, and pushes it
only when it changed. The pages close their stream while hidden (``visibilitychange``)
and reopen it when shown, so a tab in the background costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

logger = logging.getLogger("aqueue.dashboard")
Producer = Callable[[], Awaitable[dict[str, Any]]]
KEEPALIVE = 15.0


class Topic:
    def __init__(self, key: str, produce: Producer, interval: float) -> None:
        self.key = key
        self.produce = produce
        self.interval = interval
        self.last: str | None = None
        self.listeners: set[asyncio.Queue[str]] = set()
        self.task: asyncio.Task[None] | None = None

    async def run(self, on_empty: Callable[[Topic], None]) -> None:
        try:
            while self.listeners:
                try:
                    text = json.dumps(await self.produce(), separators=(",", ":"))
                except Exception as exc:  # Redis away: say so on the page, keep trying
                    text = json.dumps({"live_error": str(exc) or type(exc).__name__})
                if text != self.last:
                    self.last = text
                    for listener in self.listeners:
                        if listener.full():  # a slow browser gets the latest only
                            listener.get_nowait()
                        listener.put_nowait(text)
                await asyncio.sleep(self.interval)
        finally:
            on_empty(self)


class LiveHub:
    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self.topics: dict[str, Topic] = {}

    def _ended(self, topic: Topic) -> None:
        if self.topics.get(topic.key) is topic:
            del self.topics[topic.key]

    async def stream(self, key: str, produce: Producer,
                     interval: float | None = None) -> AsyncIterator[str]:
        """The topic's data as server-sent events, for as long as the client listens."""
        topic = self.topics.get(key)
        if topic is None or topic.task is None or topic.task.done():
            topic = self.topics[key] = Topic(key, produce, interval or self.interval)
        listener: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
        if topic.last is not None:
            listener.put_nowait(topic.last)
        topic.listeners.add(listener)
        if topic.task is None:
            topic.task = asyncio.create_task(topic.run(self._ended), name=f"aqueue-live-{key}")
        try:
            yield "retry: 2000\n\n"
            while True:
                try:
                    text = await asyncio.wait_for(listener.get(), KEEPALIVE)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                yield f"data: {text}\n\n"
        finally:
            topic.listeners.discard(listener)

    async def close(self) -> None:
        for topic in list(self.topics.values()):
            topic.listeners.clear()
            if topic.task is not None:
                topic.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await topic.task
        self.topics.clear()
