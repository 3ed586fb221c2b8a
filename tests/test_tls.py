"""TLS: a private redis-server with a certificate from a CA made for the test (the
``openssl`` command line), reached with ``rediss://...?ssl_ca_certs=``."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aqueue import AsyncQueue, ConnectionFailed, Queue, Worker
from tests import tasks
from tests.redis_servers import RedisServer, free_port

pytestmark = pytest.mark.anyio
REFUSED = "TLS certificate verification failed"


def openssl(*args: str, cwd: Path) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        raise RuntimeError("the TLS tests need the openssl command (apt-get install openssl)")
    subprocess.run([binary, *args], cwd=cwd, check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> Path:
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.pem",
            cwd=directory)
    return directory / f"{name}.pem"


def make_server_cert(directory: Path, ca: str) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (as an IP subject alternative name), signed by ``ca``."""
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server.key", "-out", "server.csr", cwd=directory)
    openssl("x509", "-req", "-in", "server.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.pem",
            cwd=directory)
    return directory / "server.pem", directory / "server.key"


@dataclass
class TLSServer:
    server: RedisServer
    tls_port: int
    ca: Path
    wrong_ca: Path

    def url(self, ca: Path) -> str:
        return f"rediss://127.0.0.1:{self.tls_port}/0?ssl_ca_certs={ca}"


@pytest.fixture(scope="module")
def tls_server() -> Iterator[TLSServer]:
    directory = Path(tempfile.mkdtemp(prefix="aqueue-tls-"))
    ca = make_ca(directory, "test-ca")
    wrong_ca = make_ca(directory, "other-ca")
    cert, key = make_server_cert(directory, "test-ca")
    tls_port = free_port()
    server = RedisServer("--tls-port", str(tls_port), "--tls-cert-file", str(cert),
                         "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca),
                         "--tls-auth-clients", "no")
    yield TLSServer(server, tls_port, ca, wrong_ca)
    server.close()
    shutil.rmtree(directory, ignore_errors=True)


async def test_producers_and_worker_work_over_tls(tls_server: TLSServer) -> None:
    url = tls_server.url(tls_server.ca)
    async with AsyncQueue("tls", url=url) as producer:
        async_job = await producer.enqueue(tasks.add, 2, 2)
        with Queue("tls", url=url) as sync_producer:
            sync_job = await asyncio.to_thread(sync_producer.enqueue, "tests.tasks.add", 3, 3)
            worker = Worker(["tls"], url=url, imports=["tests.tasks"], burst=True)
            await asyncio.wait_for(worker.run(install_signal_handlers=False), 30)
            assert await async_job.result(timeout=5) == 4
            assert await asyncio.to_thread(sync_job.result, timeout=5) == 6
    with tls_server.server.client() as plain:  # the jobs went to the server behind TLS
        assert plain.hget(f"aq:{{tls}}:job:{async_job.id}", "status") == b"finished"


async def test_a_server_certificate_from_another_ca_is_refused_clearly(
    tls_server: TLSServer
) -> None:
    url = tls_server.url(tls_server.wrong_ca)
    async with AsyncQueue("tls", url=url) as producer:
        with pytest.raises(ConnectionFailed, match=REFUSED) as refused:
            await producer.enqueue(tasks.add, 1, 1)
    assert f"127.0.0.1:{tls_server.tls_port}" in str(refused.value)
    assert "nothing was enqueued" in str(refused.value)
    assert f"ssl_ca_certs ({tls_server.wrong_ca})" in str(refused.value)
    with Queue("tls", url=url) as sync_producer, \
            pytest.raises(ConnectionFailed, match=REFUSED):
        sync_producer.enqueue(tasks.add, 1, 1)
    worker = Worker(["tls"], url=url, imports=["tests.tasks"], burst=True)
    with pytest.raises(ConnectionFailed, match=REFUSED):
        await worker.run(install_signal_handlers=False)


async def test_a_plain_connection_to_the_tls_port_is_refused_clearly(
    tls_server: TLSServer
) -> None:
    async with AsyncQueue("tls", url=f"redis://127.0.0.1:{tls_server.tls_port}/0") as q:
        with pytest.raises(ConnectionFailed, match=f"127.0.0.1:{tls_server.tls_port}"):
            await q.enqueue(tasks.add, 1, 1)
