"""``wait_replicas``: writes that create or end jobs count only once replicas have them.

Redis replicates asynchronously: a primary that acknowledged an enqueue and then lost its
role (a Sentinel failover, a partition) may take the job with it. With ``wait_replicas=N``
in the URL, the store sends ``WAIT N timeout`` right behind each ``enqueue`` and ``ack``
script on the same connection, and a write fewer replicas confirmed is treated as not
done: resent (both scripts are safe to send again), on the new primary once there is one.
"""

from __future__ import annotations

from typing import Any

from redis.exceptions import ResponseError

from aqueue.store.errors import ConnectionLost
from aqueue.store.resp import Command
from aqueue.store.urls import ServerConfig

# The scripts that create or end jobs: with ``wait_replicas`` they count only once that
# many replicas have their writes.
DURABLE_SCRIPTS = frozenset({"enqueue", "ack"})


class NotReplicated(ConnectionLost):
    """The primary ran the write but too few replicas confirmed it in time: a failover
    now could lose it. Sent, so resent only where that is safe."""

    def __init__(self, message: str) -> None:
        super().__init__(message, sent=True)


def wait_command(config: ServerConfig, name: str) -> Command | None:
    """The WAIT to send right after script ``name``, if its writes must be replicated."""
    if config.wait_replicas and name in DURABLE_SCRIPTS:
        return ("WAIT", config.wait_replicas, int(config.wait_timeout * 1000))
    return None


def check_replicated(config: ServerConfig, name: str, acked: Any) -> None:
    if isinstance(acked, ResponseError):
        # The WAIT itself was refused or cut short (UNBLOCKED: the primary was demoted
        # while it waited): the write is not known to be replicated.
        raise NotReplicated(f"the {name} reached the primary but its WAIT for replicas "
                            f"failed: {acked}")
    if int(acked) < config.wait_replicas:
        raise NotReplicated(
            f"the {name} reached the primary but {acked} of {config.wait_replicas} replicas "
            f"confirmed it within {config.wait_timeout:g} s (wait_replicas): a failover "
            "could lose it")


def first_reply(replies: list[Any], then: Command | None) -> Any:
    """The command's reply (raised if an error), and the reply of ``then`` if sent."""
    if isinstance(replies[0], ResponseError):
        raise replies[0]
    return (replies[0], replies[1]) if then is not None else replies[0]
