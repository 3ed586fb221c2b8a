"""Commands in one MULTI/EXEC, and reading its replies, for both stores."""

from __future__ import annotations

from typing import Any

from redis.exceptions import ResponseError

from aqueue.store.resp import Command, specific

MAX_ATTEMPTS = 8


def wrap(commands: list[Command]) -> list[Command]:
    return [("MULTI",), *commands, ("EXEC",)]


def result(replies: list[Any]) -> Any:
    """The last command's reply, from the replies to ``wrap(commands)``.

    Raises the first error: a command refused when queued (MOVED, ASK, READONLY, OOM...:
    EXEC then ran nothing) or one that failed when run (NOSCRIPT: only the commands
    before the script ran, and a caller sends the block again only if those may run twice).
    """
    for reply in replies[:-1]:
        if isinstance(reply, ResponseError):
            raise specific(reply)
    ran = replies[-1]
    if isinstance(ran, ResponseError):
        raise specific(ran)
    for reply in ran:
        if isinstance(reply, ResponseError):
            raise specific(reply)
    return ran[-1]
