"""``connection=``: read where a redis-py client points, so aqueue's own connections talk
to exactly the same server(s).

aqueue never sends commands through the given client (it opens lean connections of its
own), so the client's decoding or pool settings cannot change what aqueue reads. It takes
the address, database and credentials; anything it cannot reproduce is refused rather
than guessed.
"""

from __future__ import annotations

from typing import Any, Literal

from aqueue.store.urls import Address, ServerConfig, TLSOptions

_ACCEPTED = ("redis.asyncio.Redis, redis.Redis, redis.asyncio.RedisCluster, redis.RedisCluster "
             "or a Sentinel-managed client (sentinel.master_for(...))")


def config_from_client(client: Any) -> ServerConfig:
    """The ``ServerConfig`` of a redis-py client; ``TypeError`` for anything else."""
    module = type(client).__module__
    if not module.startswith("redis"):
        raise TypeError(f"connection= takes {_ACCEPTED}, or use url=; got {type(client).__name__}")
    if hasattr(client, "nodes_manager") and hasattr(client, "startup_nodes"):
        return _cluster(client)
    pool = getattr(client, "connection_pool", None)
    if pool is None:
        raise TypeError(f"connection= takes {_ACCEPTED}, or use url=; got {type(client).__name__}")
    if hasattr(pool, "sentinel_manager") and hasattr(pool, "service_name"):
        return _sentinel(pool)
    kwargs: dict[str, Any] = dict(pool.connection_kwargs)
    _refuse_credential_provider(kwargs)
    common = _common(kwargs, ssl="SSL" in pool.connection_class.__name__)
    if kwargs.get("path"):
        return ServerConfig("standalone", (Address.unix(str(kwargs["path"])),),
                            db=int(kwargs.get("db") or 0), **common)
    address = Address(str(kwargs.get("host") or "localhost"), int(kwargs.get("port") or 6379))
    return ServerConfig("standalone", (address,), db=int(kwargs.get("db") or 0), **common)


def _cluster(client: Any) -> ServerConfig:
    kwargs: dict[str, Any] = dict(getattr(client, "connection_kwargs", {}) or {})
    _refuse_credential_provider(kwargs)
    seeds = tuple(Address(str(n.host), int(n.port)) for n in client.startup_nodes)
    if not seeds:
        raise TypeError("this RedisCluster client has no startup nodes to read")
    ssl = "SSL" in str(kwargs.get("connection_class", "")) or bool(kwargs.get("ssl"))
    return ServerConfig("cluster", seeds, **_common(kwargs, ssl=ssl))


def _sentinel(pool: Any) -> ServerConfig:
    if not getattr(pool, "is_master", True):
        raise TypeError("connection= got a Sentinel client for replicas (slave_for); aqueue "
                        "writes, so it needs sentinel.master_for(...)")
    kwargs: dict[str, Any] = dict(pool.connection_kwargs)
    _refuse_credential_provider(kwargs)
    manager = pool.sentinel_manager
    sentinels = []
    for sentinel in manager.sentinels:
        skw = sentinel.connection_pool.connection_kwargs
        sentinels.append(Address(str(skw.get("host", "localhost")), int(skw.get("port", 26379))))
    skwargs = getattr(manager, "sentinel_kwargs", {}) or {}
    ssl = "SSL" in pool.connection_class.__name__
    return ServerConfig("sentinel", tuple(sentinels), db=int(kwargs.get("db") or 0),
                        service_name=str(pool.service_name),
                        sentinel_username=skwargs.get("username"),
                        sentinel_password=skwargs.get("password"), **_common(kwargs, ssl=ssl))


def _common(kwargs: dict[str, Any], *, ssl: bool) -> dict[str, Any]:
    common: dict[str, Any] = {"username": kwargs.get("username"),
                              "password": kwargs.get("password")}
    if kwargs.get("socket_timeout"):
        common["socket_timeout"] = float(kwargs["socket_timeout"])
    if kwargs.get("socket_connect_timeout"):
        common["connect_timeout"] = float(kwargs["socket_connect_timeout"])
    if ssl:
        reqs = kwargs.get("ssl_cert_reqs", "required")
        reqs = {0: "none", 1: "optional", 2: "required"}.get(reqs, reqs)
        reqs = str(getattr(reqs, "name", reqs)).lower().replace("cert_", "")
        cert_reqs: Literal["required", "optional", "none"] = (
            "none" if reqs == "none" else "optional" if reqs == "optional" else "required")
        common["tls"] = TLSOptions(
            cert_reqs=cert_reqs,
            ca_certs=kwargs.get("ssl_ca_certs"), certfile=kwargs.get("ssl_certfile"),
            keyfile=kwargs.get("ssl_keyfile"),
            check_hostname=bool(kwargs.get("ssl_check_hostname", reqs == "required")))
    return common


def _refuse_credential_provider(kwargs: dict[str, Any]) -> None:
    if kwargs.get("credential_provider") is not None:
        raise TypeError("connection= got a client with a credential_provider, which aqueue "
                        "cannot reproduce on its own connections; pass username and password "
                        "(or a URL) instead")
