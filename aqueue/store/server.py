"""Checks a component runs against its Redis before relying on it: reachable, new enough,
and not configured to evict jobs."""

from __future__ import annotations

import logging

from redis.exceptions import AuthenticationError, RedisError, ResponseError

from aqueue.errors import ConnectionFailed
from aqueue.store.store import Store

logger = logging.getLogger("aqueue")
MIN_VERSION = (7, 0)  # sharded pub/sub (result waiters), script flags (OOM), LPOP count
EVICTING = ("allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu",
            "volatile-random", "volatile-ttl")


async def ping(store: Store) -> None:
    """Raise ``ConnectionFailed`` naming the server if Redis does not answer."""
    try:
        await store.call("PING")
    except AuthenticationError as exc:
        raise ConnectionFailed(str(exc)) from None
    except ResponseError as exc:
        raise ConnectionFailed(f"Redis at {store.describe()} refused the connection: "
                               f"{exc}") from None
    except (RedisError, OSError) as exc:
        raise ConnectionFailed(f"cannot reach Redis at {store.describe()}: {exc}") from None


async def discover(store: Store) -> None:
    """Turn a ``redis://`` store that points at a cluster node into a cluster store."""
    if store.mode != "standalone":
        return
    info = await _call(store, "INFO", "cluster")
    if b"cluster_enabled:1" in info:
        address = await store.router.address_for(None)
        store.config = store.config.as_cluster(address)
        store.router = store._router(store.config)


async def check_servers(store: Store, who: str) -> None:
    """Every primary runs Redis 7.0 or newer (else ``ConnectionFailed``); warn loudly if one
    may evict keys."""
    for address in await store.primaries():
        connection = store.connection(address)
        info = await _call(store, "INFO", "server", connection=connection)
        version = _field(info, b"redis_version") or "0"
        parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
        if parts < MIN_VERSION:
            raise ConnectionFailed(
                f"Redis {version} at {address} is too old: aqueue needs Redis 7.0 or newer "
                "(or Valkey 7.2+), for sharded pub/sub and script flags")
        try:
            reply = await connection.call("CONFIG", "GET", "maxmemory-policy")
        except ResponseError:  # no CONFIG for this ACL user, or a managed Redis hiding it
            continue
        warn_if_evicting(reply[1].decode() if len(reply) > 1 else None, str(address), who)


def warn_if_evicting(policy: str | None, where: str, who: str) -> None:
    """Loudly: a Redis that may evict keys will silently drop queued jobs."""
    if policy in EVICTING:
        logger.warning(
            "Redis at %s has maxmemory-policy %s: when it runs out of memory it will evict "
            "keys, and with them jobs of %s, silently. Set maxmemory-policy noeviction on the "
            "Redis aqueue uses (see docs/reliability.md).", where, policy, who)


async def _call(store: Store, *command: str, connection: object = None) -> bytes:
    try:
        if connection is not None:
            reply: bytes = await connection.call(*command)  # type: ignore[attr-defined]
        else:
            reply = await store.call(*command)
    except ResponseError as exc:
        if str(exc).startswith("NOPERM"):
            raise ConnectionFailed(
                f"Redis at {store.describe()} refused {' '.join(command)}: {exc}; the Redis "
                "user needs the commands listed in docs/security.md") from None
        raise
    return reply


def _field(info: bytes, name: bytes) -> str | None:
    for line in info.splitlines():
        if line.startswith(name + b":"):
            return line.split(b":", 1)[1].decode().strip()
    return None
