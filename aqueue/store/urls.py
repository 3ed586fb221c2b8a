"""Where the Redis servers are: URLs (and redis-py clients) turned into a ``ServerConfig``.

Forms accepted::

    redis://[[user]:password@]host[:port][/db][?password=...&username=...]
                     any form also takes ?socket_timeout=, connect_timeout= (seconds) and
                     wait_replicas=N[&wait_timeout=S]: enqueues and outcomes wait for N
                     replicas (WAIT) before they count, so a failover cannot lose them
    rediss://...     TLS; ?ssl_cert_reqs=required|optional|none, ssl_ca_certs=, ssl_certfile=,
                     ssl_keyfile=, ssl_check_hostname=true|false
    unix:///path/to/redis.sock[?db=N&password=...]
    redis+sentinel://[[user]:password@]host:port[,host:port...]/service[/db]
                     (rediss+sentinel:// for TLS; ?sentinel_username=, sentinel_password=)
    redis+cluster://[[user]:password@]host:port[,host:port...]   (rediss+cluster:// for TLS)

A ``redis://`` URL that points at a cluster node works too: the first MOVED reply turns
the connection into a cluster one. Nothing here guesses an address: what cannot be
followed is refused with ``ConnectionFailed``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

from aqueue.errors import ConnectionFailed

DEFAULT_URL = "redis://127.0.0.1:6379/0"
Mode = Literal["standalone", "sentinel", "cluster"]
_SCHEMES: dict[str, tuple[Mode, bool]] = {
    "redis": ("standalone", False), "rediss": ("standalone", True),
    "unix": ("standalone", False),
    "redis+sentinel": ("sentinel", False), "rediss+sentinel": ("sentinel", True),
    "redis+cluster": ("cluster", False), "rediss+cluster": ("cluster", True),
}
_SECRET_QUERY = re.compile(r"((?:^|[?&;])(?:sentinel_)?password=)[^&;#]*", re.IGNORECASE)


def default_url() -> str:
    """``$AQUEUE_URL``, or a local Redis."""
    return os.environ.get("AQUEUE_URL") or DEFAULT_URL


@dataclass(frozen=True, slots=True)
class Address:
    """A server's TCP address, or a unix socket (``Address.unix(path)``, port -1)."""

    host: str
    port: int

    @classmethod
    def unix(cls, path: str) -> Address:
        return cls(path, -1)

    @property
    def is_unix(self) -> bool:
        return self.port == -1

    def __str__(self) -> str:
        return f"unix://{self.host}" if self.is_unix else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class TLSOptions:
    cert_reqs: Literal["required", "optional", "none"] = "required"
    ca_certs: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    check_hostname: bool = True


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """How to reach Redis: one server, a Sentinel-managed primary, or a cluster."""

    mode: Mode
    addresses: tuple[Address, ...] = ()  # the server; or the sentinels; or cluster seeds
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: TLSOptions | None = None
    service_name: str | None = None  # Sentinel
    sentinel_username: str | None = None
    sentinel_password: str | None = field(default=None, repr=False)
    socket_timeout: float = 30.0
    connect_timeout: float = 5.0
    # Jobs created or ended only count once this many replicas have them (WAIT): a
    # failover cannot lose them then. 0: as soon as the primary has them.
    wait_replicas: int = 0
    wait_timeout: float = 1.0

    def describe(self) -> str:
        """Where this points, without credentials, e.g. for error messages."""
        if self.addresses and self.addresses[0].is_unix:
            return f"{self.addresses[0]}?db={self.db}"
        hosts = ",".join(str(a) for a in self.addresses)
        secure = "s" if self.tls else ""
        if self.mode == "sentinel":
            return f"redis{secure}+sentinel://{hosts}/{self.service_name}/{self.db}"
        if self.mode == "cluster":
            return f"redis{secure}+cluster://{hosts}"
        return f"redis{secure}://{hosts}/{self.db}"

    def as_cluster(self, seed: Address) -> ServerConfig:
        return replace(self, mode="cluster", addresses=(seed, *self.addresses), db=0)


def redact(url: str) -> str:
    """The URL without any password (userinfo or query), for logs and error messages."""
    url = _SECRET_QUERY.sub(r"\1***", url)
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    userinfo, at, hosts = rest.rpartition("@")
    if not at:
        return url
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{hosts}"


def parse_url(url: str) -> ServerConfig:
    """Raises ``ConnectionFailed`` naming what is wrong with ``url`` (password redacted)."""
    shown = redact(url)
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in _SCHEMES:
        raise ConnectionFailed(
            f"{shown!r} is not a Redis URL: expected redis://HOST:PORT/DB, rediss://..., "
            "unix:///path/to/socket, redis+sentinel://HOST:PORT[,HOST:PORT]/SERVICE or "
            "redis+cluster://HOST:PORT[,HOST:PORT]")
    mode, tls = _SCHEMES[scheme.lower()]
    try:
        return _parse(url, scheme.lower(), mode, tls)
    except ValueError as exc:
        raise ConnectionFailed(f"invalid Redis URL {shown!r}: {exc}") from None


def _parse(url: str, scheme: str, mode: Mode, tls: bool) -> ServerConfig:
    rest = url.split("://", 1)[1]
    rest, _, query_text = rest.partition("?")
    query = {k: v[-1] for k, v in parse_qs(query_text, keep_blank_values=True).items()}
    userinfo, at, location = rest.rpartition("@")
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
        if not colon:  # redis://password@host is read as a password, like redis-py
            username, password = None, unquote(user) or None
    username = query.pop("username", None) or username
    password = query.pop("password", None) or password
    options: dict[str, Any] = {"username": username, "password": password}
    for name in ("socket_timeout", "connect_timeout", "wait_timeout"):
        if name in query:
            options[name] = _positive(name, query.pop(name))
    if "wait_replicas" in query:
        text = query.pop("wait_replicas")
        if not text.isdigit():
            raise ValueError(f"wait_replicas must be a number of replicas, got {text!r}")
        options["wait_replicas"] = int(text)
    if tls:
        options["tls"] = _tls_options(query)
    if scheme == "unix":
        path = unquote(location)
        if not path.startswith("/"):
            raise ValueError("a unix socket URL needs an absolute path: unix:///path/to/socket")
        db = _db(query.pop("db", "0"))
        _no_leftovers(query)
        return ServerConfig("standalone", (Address.unix(path),), db=db, **options)
    hosts_part, _, path = location.partition("/")
    addresses = tuple(_address(h) for h in hosts_part.split(",")) if hosts_part else ()
    if not addresses:
        raise ValueError("no host given")
    segments = [s for s in path.split("/") if s]
    if mode == "sentinel":
        if not segments:
            raise ValueError("a Sentinel URL needs the service name: "
                             "redis+sentinel://HOST:PORT[,HOST:PORT]/SERVICE[/DB]")
        service = unquote(segments[0])
        db = _db(segments[1] if len(segments) > 1 else query.pop("db", "0"))
        options["sentinel_username"] = query.pop("sentinel_username", None)
        options["sentinel_password"] = query.pop("sentinel_password", None)
        _no_leftovers(query)
        return ServerConfig("sentinel", addresses, db=db, service_name=service, **options)
    if mode == "cluster":
        if segments and segments != ["0"]:
            raise ValueError("Redis Cluster has only database 0")
        _no_leftovers(query)
        return ServerConfig("cluster", addresses, **options)
    if len(addresses) > 1:
        raise ValueError("several hosts need redis+sentinel:// or redis+cluster://")
    db = _db(segments[0] if segments else query.pop("db", "0"))
    _no_leftovers(query)
    return ServerConfig("standalone", addresses, db=db, **options)


def _address(text: str) -> Address:
    parts = urlsplit(f"//{text}")
    if not parts.hostname:
        raise ValueError(f"bad host {text!r}")
    try:
        port = parts.port or 6379
    except ValueError:
        raise ValueError(f"bad port in {text!r}") from None
    return Address(parts.hostname, port)


def _db(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"database must be a number, got {text!r}")
    return int(text)


def _positive(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, got {text!r}")
    return value


def _tls_options(query: dict[str, str]) -> TLSOptions:
    reqs = query.pop("ssl_cert_reqs", "required").lower()
    if reqs not in ("required", "optional", "none"):
        raise ValueError(f"ssl_cert_reqs must be required, optional or none, got {reqs!r}")
    check = query.pop("ssl_check_hostname", "true" if reqs == "required" else "false")
    return TLSOptions(cert_reqs=reqs,  # type: ignore[arg-type]
                      ca_certs=query.pop("ssl_ca_certs", None),
                      certfile=query.pop("ssl_certfile", None),
                      keyfile=query.pop("ssl_keyfile", None),
                      check_hostname=check.lower() in ("1", "true", "yes"))


def _no_leftovers(query: dict[str, str]) -> None:
    if query:
        raise ValueError(f"unknown option(s) {', '.join(sorted(query))}")
