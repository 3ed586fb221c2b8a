"""Passwords never reach output or logs, in any URL form; and a Redis user that may not
run a command aqueue needs at start gets one clear line, not a traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from tests.chaos.harness import REPO_ROOT
from tests.redis_servers import RedisServer, free_port

PASSWORD = "Pw-7c1f3e-do-not-print"
USER = "alice"


def url_forms(port: int) -> list[str]:
    """The ways a Redis URL can carry a password (redis-py reads them all)."""
    where = f"127.0.0.1:{port}"
    return [
        f"redis://:{PASSWORD}@{where}/0",
        f"redis://{USER}:{PASSWORD}@{where}/0",
        f"redis://{where}/0?password={PASSWORD}",
        f"redis://{where}/0?username={USER}&password={PASSWORD}",
    ]


def aqueue(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aqueue", *args], cwd=REPO_ROOT, text=True,
                          capture_output=True, timeout=60)


@pytest.fixture
def password_server() -> Iterator[RedisServer]:
    """A Redis with a password for the default user and for ``alice``."""
    server = RedisServer()  # (started without one: redis-py retries a refused AUTH for secs)
    with redis.Redis(port=server.port) as r:
        r.execute_command("ACL", "SETUSER", USER, "on", f">{PASSWORD}", "~*", "&*", "+@all")
        r.config_set("requirepass", PASSWORD)
    yield server
    server.close()


@pytest.mark.timeout(120)
def test_no_output_shows_a_password_in_any_url_form(password_server: RedisServer) -> None:
    """``aqueue info`` and a burst worker, against the server and against a closed port,
    for every URL form: the password appears nowhere in their output."""
    closed = free_port()
    runs: list[tuple[str, bool, list[str]]] = []  # (url, reachable, command)
    for reachable, port in ((True, password_server.port), (False, closed)):
        for url in url_forms(port):
            runs.append((url, reachable, ["info", "--url", url]))
            runs.append((url, reachable, ["worker", "q", "--url", url, "--import",
                                          "tests.tasks", "--burst"]))
    with ThreadPoolExecutor(max_workers=8) as pool:
        done = list(pool.map(lambda run: aqueue(*run[2]), runs))
    leaks = []
    for (url, reachable, command), result in zip(runs, done, strict=True):
        output = result.stdout + result.stderr
        what = f"aqueue {command[0]} with {url.replace(PASSWORD, 'PW')}"
        if reachable:
            assert result.returncode == 0, f"{what} failed: {result.stderr[-2000:]}"
        else:
            assert result.returncode == 1, f"{what}: status {result.returncode}"
            assert "cannot reach Redis at" in result.stderr, f"{what}: {result.stderr[-500:]}"
        if PASSWORD in output:
            line = next(line for line in output.splitlines() if PASSWORD in line)
            leaks.append(f"{what}: {line.replace(PASSWORD, '<PASSWORD>')}")
    assert leaks == [], "the password was printed:\n" + "\n".join(leaks)


@pytest.mark.timeout(60)
def test_a_worker_whose_user_may_not_run_info_exits_with_one_clear_line() -> None:
    """A Redis user allowed everything but INFO: ``aqueue worker`` exits with status 1 and
    one line naming the refused command, without a traceback (or the password)."""
    server = RedisServer()
    try:
        with redis.Redis(port=server.port) as r:
            r.execute_command("ACL", "SETUSER", "limited", "on", f">{PASSWORD}", "~*", "&*",
                              "+@all", "-info")
        done = aqueue("worker", "q", "--url",
                      f"redis://limited:{PASSWORD}@127.0.0.1:{server.port}/0",
                      "--import", "tests.tasks")
    finally:
        server.close()
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, f"status {done.returncode}:\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert len(lines) == 1, done.stderr[-3000:]
    assert lines[0].startswith("error:"), lines[0]
    assert re.search(r"\binfo\b", lines[0], re.IGNORECASE), f"INFO not named: {lines[0]}"
    assert PASSWORD not in done.stderr
