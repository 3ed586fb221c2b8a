"""The Lua scripts, one per state transition, each loaded once per connection.

Each ``scripts/<name>.lua`` is prefixed with ``scripts/_prelude.lua`` and run by SHA
(EVALSHA); after a SCRIPT FLUSH or a Redis restart it is loaded again on NOSCRIPT.
They run on the lean pipelined connection of ``resp.py`` when the client's set-up
allows it, and through redis-py otherwise.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from aqueue.store.resp import RespConnection

SCRIPT_NAMES = ("enqueue", "claim", "ack", "renew", "promote", "reap", "requeue_failed",
                "cancel", "empty", "watch")


@cache
def script_source(name: str) -> str:
    folder = resources.files("aqueue.store") / "scripts"
    prelude = (folder / "_prelude.lua").read_text()
    return prelude + "\n" + (folder / f"{name}.lua").read_text()


@cache
def script_sha(name: str) -> str:
    return hashlib.sha1(script_source(name).encode()).hexdigest()


class Scripts:
    """Runs aqueue's scripts against one Redis server."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.fast = RespConnection.like(redis)

    async def run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        sha = script_sha(name)
        try:
            return await self._call("EVALSHA", sha, len(keys), *keys, *args)
        except NoScriptError:
            await self._call("SCRIPT", "LOAD", script_source(name))
            return await self._call("EVALSHA", sha, len(keys), *keys, *args)

    async def _call(self, *command: Any) -> Any:
        if self.fast is not None:
            return await self.fast.call(*command)
        return await self.redis.execute_command(*command)  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        if self.fast is not None:
            await self.fast.close()
