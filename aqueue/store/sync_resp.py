"""A blocking connection to one Redis server, for the sync ``Queue`` (one thread at a time;
``SyncStore`` pools them)."""

from __future__ import annotations

import contextlib
import socket
import ssl
from typing import Any

import hiredis
from redis.exceptions import ResponseError

from aqueue.store.errors import ConnectionLost, ReplyTimeout, is_protocol_error
from aqueue.store.resp import (
    Command,
    cannot_connect,
    check_handshake,
    handshake,
    specific,
    tls_context,
)
from aqueue.store.urls import Address, ServerConfig


class SyncConnection:
    def __init__(self, config: ServerConfig, address: Address, *, db: int | None = None,
                 name: str | None = None, auth: bool = True) -> None:
        self.config = config
        self.address = address
        self.db = config.db if db is None else db
        self.name = name
        self.auth = auth
        self._sock: socket.socket | None = None
        self._reader = hiredis.Reader(replyError=ResponseError)
        self.broken = False

    def _connect(self) -> socket.socket:
        try:
            if self.address.is_unix:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.config.connect_timeout)
                sock.connect(self.address.host)
            else:
                sock = socket.create_connection((self.address.host, self.address.port),
                                                timeout=self.config.connect_timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self.config.tls:
                    sock = tls_context(self.config.tls).wrap_socket(
                        sock, server_hostname=self.address.host)
        except (OSError, ssl.SSLError) as exc:
            raise cannot_connect(str(self.address), exc, self.config.tls) from None
        sock.settimeout(self.config.socket_timeout)
        self._sock = sock
        self._reader = hiredis.Reader(replyError=ResponseError)
        self.broken = False
        commands = handshake(self.config, db=self.db, name=self.name) if self.auth else []
        if commands:
            try:
                replies = self._exchange(commands)
                check_handshake(str(self.address), commands, replies)
            except BaseException:
                self.close()
                raise
        return sock

    def call(self, *args: Any, timeout: float | None = None) -> Any:
        """One command; its error reply is raised. ``timeout``: extra seconds the reply may
        take (for blocking commands)."""
        reply = self._exchange([args], extra=timeout)[0]
        if isinstance(reply, Exception):
            raise reply
        return reply

    def call_many(self, commands: list[Command]) -> list[Any]:
        """Commands in one write; replies in order, error replies as values."""
        return self._exchange(commands)

    def _exchange(self, commands: list[Command], extra: float | None = None) -> list[Any]:
        sock = self._sock if self._sock is not None and not self.broken else self._connect()
        try:
            sock.sendall(b"".join(hiredis.pack_command(c) for c in commands))
        except OSError as exc:
            refused = self._refusal(sock)
            self.close()
            if refused is not None:
                raise refused from None
            # Not all bytes went out, so the last command was never whole: a lone command
            # or a MULTI ... EXEC block did not run at all.
            raise ConnectionLost(f"connection to Redis at {self.address} lost: {exc}",
                                 sent=len(commands) > 1 and commands[0][0] != "MULTI") from None
        if extra:
            sock.settimeout(self.config.socket_timeout + extra)
        replies: list[Any] = []
        try:
            while len(replies) < len(commands):
                reply = self._reader.gets()
                if reply is False:
                    data = sock.recv(65536)
                    if not data:
                        raise ConnectionResetError("closed by the server")
                    self._reader.feed(data)
                    continue
                if isinstance(reply, ResponseError):
                    reply = specific(reply)
                replies.append(reply)
        except TimeoutError:
            self.close()
            raise ReplyTimeout(f"no reply from Redis at {self.address} for "
                               f"{self.config.socket_timeout + (extra or 0):g} s") from None
        except OSError as exc:
            self.close()
            raise ConnectionLost(f"connection to Redis at {self.address} lost: {exc}",
                                 sent=True) from None
        finally:
            if extra and self._sock is not None:
                self._sock.settimeout(self.config.socket_timeout)
        if any(is_protocol_error(r) for r in replies):
            self.close()  # Redis closes the connection after a protocol error
        return replies

    def _refusal(self, sock: socket.socket) -> ResponseError | None:
        """The protocol error Redis may have answered before closing on a write it refused
        (a bulk string over its proto-max-bulk-len), if it is still there to read."""
        reader = hiredis.Reader(replyError=ResponseError)
        with contextlib.suppress(OSError):
            sock.settimeout(0.1)
            while data := sock.recv(65536):
                reader.feed(data)
        while (reply := reader.gets()) is not False:
            if is_protocol_error(reply):
                return reply
        return None

    def close(self) -> None:
        self.broken = True
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
