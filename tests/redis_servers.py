"""Private redis-server processes for the tests, on free loopback ports.

The suite never touches a Redis it did not start. If redis-server is missing, every
test that needs it errors with a message saying how to install it: never skipped.
``$AQUEUE_TEST_REDIS_SERVER`` names another server binary (``valkey-server``, or a path)
for every server the suite starts: ``make test-valkey`` runs the suite that way.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

SERVER_ENV = "AQUEUE_TEST_REDIS_SERVER"


def server_binary() -> str:
    """The redis-server (or ``$AQUEUE_TEST_REDIS_SERVER``) the tests start."""
    wanted = os.environ.get(SERVER_ENV)
    if wanted:
        binary = shutil.which(wanted)
        if binary is None:
            raise RuntimeError(f"${SERVER_ENV} is {wanted!r}, which is not an executable "
                               "on PATH or a path to one")
        return binary
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(
            "redis-server is not installed; the tests need it "
            "(Debian/Ubuntu: apt-get install redis-server, or run `make test` as root)")
    return binary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """One redis-server process; ``restart()`` keeps its port and data directory."""

    def __init__(self, *extra_args: str) -> None:
        self.binary = server_binary()
        self.extra_args = extra_args
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="aqueue-redis-"))
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir), "--logfile", "redis.log",
             *self.extra_args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except (redis.ResponseError, redis.AuthenticationError):  # up, with a password
                break
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log_file = self.dir / "redis.log"
                    log = log_file.read_text() if log_file.exists() else ""
                    raise RuntimeError(
                        f"redis-server on port {self.port} did not start:\n{log}") from None
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
