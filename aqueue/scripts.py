"""The Lua scripts, one per state transition, each loaded once per connection.

Each ``scripts/<name>.lua`` is prefixed with ``scripts/_prelude.lua`` and registered
with redis-py, which runs it by SHA (EVALSHA) and loads it again after a SCRIPT FLUSH
or a Redis restart.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

SCRIPT_NAMES = ("enqueue", "claim", "ack", "promote", "reap", "requeue_failed", "cancel",
                "empty", "watch")


@cache
def script_source(name: str) -> str:
    folder = resources.files("aqueue") / "scripts"
    prelude = (folder / "_prelude.lua").read_text()
    return prelude + "\n" + (folder / f"{name}.lua").read_text()


class Scripts:
    """The scripts registered on one Redis client."""

    def __init__(self, redis: Redis) -> None:
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(script_source(name)) for name in SCRIPT_NAMES
        }

    async def run(self, name: str, keys: list[str], args: list[Any], client: Any = None) -> Any:
        return await self._scripts[name](keys=keys, args=args, client=client)
