"""The released artifacts: what the sdist and the wheel hold, and the wheel installed in a
fresh venv, used from a folder outside the checkout as a user would use it."""

from __future__ import annotations

import json
import subprocess
import tarfile
import textwrap
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import pytest

from tests.installed_venv import (
    PYPROJECT,
    ROOT,
    Distributions,
    InstalledVenv,
    build_distributions,
    install_in_fresh_venv,
    wheelhouse,
)

DISTRIBUTION = "aqueue-redis"
VERSION: str = PYPROJECT["project"]["version"]


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wheelhouse(fallback=tmp_path_factory.mktemp("wheelhouse"))


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory, wheels: Path) -> Distributions:
    return build_distributions(tmp_path_factory.mktemp("dist"), wheels)


@pytest.fixture(scope="session")
def venv(tmp_path_factory: pytest.TempPathFactory, dists: Distributions,
         wheels: Path) -> InstalledVenv:
    return install_in_fresh_venv(dists.wheel, tmp_path_factory.mktemp("venv") / "v", wheels)


@pytest.fixture
def outside(tmp_path: Path) -> Iterator[Path]:
    """A working directory that is not in the checkout, so nothing imports from it."""
    assert ROOT not in tmp_path.parents
    yield tmp_path


def run(venv: InstalledVenv, cwd: Path, *command: str | Path,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in command], cwd=cwd, env=venv.env(), text=True,
                          capture_output=True, timeout=timeout)


def runtime_files() -> set[str]:
    """Every file of the aqueue package in the checkout, as paths inside a wheel."""
    return {path.relative_to(ROOT).as_posix() for path in (ROOT / "aqueue").rglob("*")
            if path.is_file() and "__pycache__" not in path.parts}


def test_runtime_files_include_the_lua_scripts_py_typed_and_the_demo_tasks() -> None:
    files = runtime_files()
    assert {"aqueue/py.typed", "aqueue/demo/tasks.py", "aqueue/store/scripts/claim.lua",
            "aqueue/store/scripts/_prelude.lua"} <= files
    assert len([f for f in files if f.endswith(".lua")]) >= 10


def test_wheel_holds_every_runtime_file_and_nothing_from_tests_or_benchmarks(
    dists: Distributions,
) -> None:
    names = set(zipfile.ZipFile(dists.wheel).namelist())
    dist_info = f"aqueue_redis-{VERSION}.dist-info/"
    package = {n for n in names if not n.startswith(dist_info)}
    assert package == runtime_files()


def test_wheel_metadata_names_the_distribution_its_version_and_the_command(
    dists: Distributions,
) -> None:
    with zipfile.ZipFile(dists.wheel) as wheel:
        dist_info = f"aqueue_redis-{VERSION}.dist-info"
        metadata = Parser().parsestr(wheel.read(f"{dist_info}/METADATA").decode())
        entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()
        top_level = wheel.read(f"{dist_info}/top_level.txt").decode().split()
    assert (metadata["Name"], metadata["Version"]) == (DISTRIBUTION, VERSION)
    assert metadata["Requires-Python"] == ">=3.11"
    assert metadata["License-Expression"] == "MIT"
    assert "[console_scripts]\naqueue = aqueue.cli:main" in entry_points
    assert top_level == ["aqueue"]


def test_sdist_holds_the_package_and_the_whole_test_suite_but_not_the_benchmarks(
    dists: Distributions,
) -> None:
    top = f"aqueue_redis-{VERSION}/"
    with tarfile.open(dists.sdist) as sdist:
        names = {m.name.removeprefix(top) for m in sdist.getmembers() if m.isfile()}
    tests = {path.relative_to(ROOT).as_posix() for path in (ROOT / "tests").rglob("*.py")}
    assert {"pyproject.toml", "README.md", "PKG-INFO"} <= names
    assert runtime_files() <= names
    assert tests <= names
    assert not [n for n in names if n.startswith("benchmarks/") or "__pycache__" in n]


def test_installed_package_is_imported_from_the_venv_with_the_release_version(
    venv: InstalledVenv, outside: Path,
) -> None:
    code = ("import aqueue, importlib.metadata as m, json; print(json.dumps("
            f"[aqueue.__file__, aqueue.__version__, m.version({DISTRIBUTION!r})]))")
    done = run(venv, outside, venv.python, "-c", code)
    assert done.returncode == 0, done.stderr
    location, version, metadata_version = json.loads(done.stdout)
    assert Path(location).is_relative_to(venv.path)
    assert version == metadata_version == VERSION


def test_installed_command_prints_its_help(venv: InstalledVenv, outside: Path) -> None:
    done = run(venv, outside, venv.aqueue, "--help")
    assert done.returncode == 0, done.stderr
    for command in ("worker", "info", "requeue", "empty", "demo"):
        assert command in done.stdout


def test_installed_demo_runs_every_job(venv: InstalledVenv, outside: Path,
                                       redis_url: str) -> None:
    done = run(venv, outside, venv.aqueue, "demo", "--jobs", "500", "--url", redis_url)
    assert done.returncode == 0, done.stderr
    assert "500 finished, 0 failed" in done.stderr


TASKS = '''
import asyncio


async def add(a: int, b: int) -> int:
    await asyncio.sleep(0.01)
    return a + b


def shout(text: str) -> str:
    return text.upper()


def refuse(reason: str) -> None:
    raise PermissionError(reason)
'''

PRODUCER = '''
"""`producer.py enqueue URL` prints the new job ids; `producer.py results URL IDS...` their
outcomes."""
import asyncio
import json
import sys

from aqueue import AsyncQueue, JobFailed

import mytasks


async def enqueue(q: AsyncQueue) -> object:
    jobs = [await q.enqueue(mytasks.add, 2, 3), await q.enqueue(mytasks.shout, "hello"),
            await q.enqueue(mytasks.refuse, "not today")]
    return [job.id for job in jobs]


async def results(q: AsyncQueue, ids: list[str]) -> object:
    out = []
    for job_id in ids:
        try:
            out.append(["finished", await q.wait_for_result(job_id, timeout=5)])
        except JobFailed as exc:
            out.append(["failed", f"{exc.exc_type}: {exc.exc_message}"])
    return out


async def main(mode: str, url: str, ids: list[str]) -> None:
    async with AsyncQueue("q", url=url) as q:
        print(json.dumps(await (enqueue(q) if mode == "enqueue" else results(q, ids))))


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
'''


def test_installed_worker_runs_jobs_from_a_module_outside_the_checkout(
    venv: InstalledVenv, outside: Path, redis_url: str,
) -> None:
    (outside / "mytasks.py").write_text(textwrap.dedent(TASKS))
    (outside / "producer.py").write_text(textwrap.dedent(PRODUCER))
    enqueued = run(venv, outside, venv.python, "producer.py", "enqueue", redis_url)
    assert enqueued.returncode == 0, enqueued.stderr
    ids: list[str] = json.loads(enqueued.stdout)

    worker = run(venv, outside, venv.aqueue, "worker", "q", "--import", "mytasks", "--burst",
                 "--url", redis_url)
    assert worker.returncode == 0, worker.stderr
    assert "2 processed, 1 failed" in worker.stderr

    outcomes = run(venv, outside, venv.python, "producer.py", "results", redis_url, *ids)
    assert outcomes.returncode == 0, outcomes.stderr
    assert json.loads(outcomes.stdout) == [
        ["finished", 5], ["finished", "HELLO"], ["failed", "PermissionError: not today"]]
