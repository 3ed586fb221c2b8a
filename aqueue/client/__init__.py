"""The producer side: queues that enqueue jobs and read them back."""

from aqueue.client.async_queue import AsyncQueue
from aqueue.client.ops import QueueCounts

__all__ = ["AsyncQueue", "QueueCounts"]
