"""Opening Redis connections from URLs, with errors a person can act on."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from aqueue.errors import ConnectionFailed

DEFAULT_URL = "redis://127.0.0.1:6379/0"
# Long enough for aqueue's blocking calls (which stay below it), short enough to notice a
# dead peer that never answers.
SOCKET_TIMEOUT = 30.0
URL_SCHEMES = ("redis", "rediss", "unix")


def default_url() -> str:
    """``$AQUEUE_URL``, or a local Redis."""
    return os.environ.get("AQUEUE_URL") or DEFAULT_URL


def redact(url: str) -> str:
    """The URL without its password, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url



class HiredisPackingConnection(Connection):
    """redis-py's asyncio connection, packing commands with hiredis (in C) rather than in
    Python: the same bytes, about ten times faster for the long argument lists of
    aqueue's scripts."""

    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str) and " " in args[0]:
            args = (*args[0].split(), *args[1:])
        packed: bytes = hiredis.pack_command(args)
        return [packed]


def connect(url: str | None = None) -> Redis:
    """A client for ``url`` (no I/O yet). Raises ``ConnectionFailed`` for a malformed URL."""
    url = url or default_url()
    scheme = urlsplit(url).scheme
    if scheme not in URL_SCHEMES:
        raise ConnectionFailed(
            f"{redact(url)!r} is not a Redis URL: expected redis://HOST:PORT/DB, "
            "rediss://... or unix:///path/to/socket"
        )
    options: dict[str, Any] = {}
    if scheme == "redis":
        options["connection_class"] = HiredisPackingConnection
    try:
        return Redis.from_url(url, decode_responses=False, socket_timeout=SOCKET_TIMEOUT,
                              socket_keepalive=True, **options)
    except (ValueError, TypeError) as exc:
        raise ConnectionFailed(f"invalid Redis URL {redact(url)!r}: {exc}") from None


async def ping(redis: Redis, url: str | None = None) -> None:
    """Check that Redis answers; raise ``ConnectionFailed`` naming the URL if not."""
    try:
        await redis.ping()
    except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
        where = redact(url) if url else describe(redis)
        raise ConnectionFailed(f"cannot reach Redis at {where}: {exc}") from None
    except RedisError as exc:
        where = redact(url) if url else describe(redis)
        raise ConnectionFailed(f"Redis at {where} refused the connection: {exc}") from None


MIN_REDIS_VERSION = (6, 2)  # LPOP with a count, BLMOVE


async def check_redis_version(redis: Redis) -> None:
    """Raise ``ConnectionFailed`` if the server is older than aqueue's scripts need."""
    info = await redis.info("server")
    version = str(info.get("redis_version", "0"))
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if parts < MIN_REDIS_VERSION:
        raise ConnectionFailed(
            f"Redis {version} at {describe(redis)} is too old: aqueue needs 6.2 or newer")


def max_block(redis: Redis, wanted: float) -> float:
    """How long a blocking command (BLPOP...) may wait on this client without hitting its
    socket timeout: ``wanted``, or a little less than the timeout."""
    timeout = redis.connection_pool.connection_kwargs.get("socket_timeout")
    if timeout is None:
        return wanted
    return max(0.01, min(wanted, float(timeout) * 0.8))


def as_text(value: object) -> str:
    """A Redis reply (bytes with this client) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


def describe(redis: Redis) -> str:
    kwargs = redis.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix://{kwargs['path']}"
    return f"redis://{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
