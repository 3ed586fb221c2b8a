"""The producer side: queues that enqueue jobs and read them back.

Names load on first use: ``aqueue.cron`` builds on ``aqueue.client.encoding`` while the
queues build on ``aqueue.cron``, so importing the queues here eagerly would be circular.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aqueue.client.async_queue import AsyncQueue
    from aqueue.client.ops import QueueCounts

__all__ = ["AsyncQueue", "QueueCounts"]


def __getattr__(name: str) -> Any:
    if name == "AsyncQueue":
        from aqueue.client.async_queue import AsyncQueue

        return AsyncQueue
    if name == "QueueCounts":
        from aqueue.client.ops import QueueCounts

        return QueueCounts
    raise AttributeError(f"module 'aqueue.client' has no attribute {name!r}")
