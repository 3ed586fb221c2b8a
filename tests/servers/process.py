"""One ``redis-server`` process (data node or sentinel) that dies with the test run.

Each process gets ``PR_SET_PDEATHSIG`` (SIGKILL when the test process dies, even by
SIGKILL) and its own session (a Ctrl-C in the terminal reaches pytest, which then tears
down, not the servers); an ``atexit`` hook kills whatever is still running.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis

from tests.redis_servers import free_port, server_binary

PR_SET_PDEATHSIG = 1
LOG_FILE = "redis.log"
START_TIMEOUT = 10.0

# The kernel sends PDEATHSIG when the *thread* that forked the child exits, so every
# process is forked by this one thread, which lives as long as the test process: servers
# (re)started from a short-lived worker thread (anyio.to_thread) would die with it.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="redis-spawner")
_RUNNING: set[ServerProcess] = set()


def _die_with_parent() -> None:
    """In the child, before exec: get SIGKILLed when the spawning thread dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def redis_server_binary() -> str:
    return server_binary()


class ServerStartError(RuntimeError):
    """A redis-server did not come up; the message carries the tail of its log."""


class ServerProcess:
    """A redis-server on a free loopback port with its own directory and log.

    ``config`` (a sentinel's configuration, say) is written to ``server.conf`` in the
    directory once and passed first on the command line, so a sentinel's rewrites of it
    survive ``restart()``. ``cluster_bus`` allocates a second free port for the cluster
    bus (``cluster-port``), so neither port has to be below 55536.
    """

    def __init__(
        self, label: str, args: Sequence[str] = (), *, config: str | None = None,
        cluster_bus: bool = False,
    ) -> None:
        self.label = label
        self.binary = redis_server_binary()
        self.args = list(args)
        self.dir = Path(tempfile.mkdtemp(prefix=f"aqueue-{label}-"))
        self.config_path: Path | None = None
        if config is not None:
            self.config_path = self.dir / "server.conf"
            self.config_path.write_text(config)
        self.cluster_bus = cluster_bus
        self.port = free_port()
        self.bus_port = free_port() if cluster_bus else 0
        self.process: subprocess.Popen[bytes] | None = None
        self._started_once = False

    def __repr__(self) -> str:
        return f"<{self.label} on 127.0.0.1:{self.port}>"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        head = [self.binary] + ([str(self.config_path)] if self.config_path else [])
        tail = ["--cluster-port", str(self.bus_port)] if self.cluster_bus else []
        return [*head, "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.dir), "--logfile", LOG_FILE, *self.args, *tail]

    def spawn(self) -> None:
        """Fork the process without waiting for it (``wait_ready`` does)."""
        if self.alive():
            raise RuntimeError(f"{self!r} is already running")
        command = self.command()
        self.process = _SPAWNER.submit(
            subprocess.Popen, command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent,
        ).result()
        _RUNNING.add(self)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until it answers PING. On its very first start, a port another process
        took in the meantime gets new ports and another try."""
        for attempt in range(3):
            try:
                self._wait_for_ping(timeout)
                self._started_once = True
                return
            except ServerStartError:
                port_taken = "Address already in use" in self.log_tail()
                if self._started_once or not port_taken or attempt == 2:
                    raise
                self.port = free_port()
                self.bus_port = free_port() if self.cluster_bus else 0
                self.spawn()

    def _wait_for_ping(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with redis.Redis(port=self.port, socket_connect_timeout=0.2, socket_timeout=1) as client:
            while True:
                process = self.process
                if process is None or process.poll() is not None:
                    code = None if process is None else process.returncode
                    raise ServerStartError(
                        f"{self!r} exited (code {code}) instead of starting: "
                        f"{' '.join(self.command())}\n{self.log_tail()}")
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        raise ServerStartError(
                            f"{self!r} did not answer PING within {timeout:g} s\n"
                            f"{self.log_tail()}") from None
                    time.sleep(0.01)

    def start(self, timeout: float = START_TIMEOUT) -> None:
        self.spawn()
        self.wait_ready(timeout)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no goodbye to clients or peers."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        """SIGTERM and wait (SIGKILL after 10 s)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def restart(self, timeout: float = START_TIMEOUT) -> None:
        """Start it again on the same port, in the same directory."""
        self.kill()
        self.start(timeout)

    def client(self, *, decode: bool = True, socket_timeout: float = 10) -> redis.Redis:
        """A plain client of this one process (``with server.client() as r``)."""
        return self.client_for(self.port, decode=decode, socket_timeout=socket_timeout)

    @staticmethod
    def client_for(port: int, *, decode: bool = True, socket_timeout: float = 10) -> redis.Redis:
        return redis.Redis(port=port, decode_responses=decode, socket_timeout=socket_timeout,
                           socket_connect_timeout=2)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = (self.dir / LOG_FILE).read_text(errors="replace")
        except FileNotFoundError:
            return f"  ({self.dir / LOG_FILE} does not exist)"
        return "\n".join(f"  | {line}" for line in text.splitlines()[-lines:])

    def close(self) -> None:
        """Kill it and delete its directory."""
        self.kill()
        _RUNNING.discard(self)
        shutil.rmtree(self.dir, ignore_errors=True)


def start_all(servers: Sequence[ServerProcess], timeout: float = START_TIMEOUT) -> None:
    """Fork every server first, then wait for each: start-up in parallel."""
    for server in servers:
        server.spawn()
    for server in servers:
        server.wait_ready(timeout)


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_RUNNING):
        with contextlib.suppress(Exception):
            server.close()
