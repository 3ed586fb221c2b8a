"""``aqueue worker`` starts without typer: its own strict parser reads the arguments, and
leaves to the typer command whatever it is not sure of."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from aqueue.cli import typer_app
from aqueue.cli import worker as typer_worker
from aqueue.cli.worker_start import parse
from tests.test_cli import ROOT

ARGVS = [
    ["q"],
    ["high", "low", "--import", "tests.tasks", "-i", "tests.elsewhere"],
    ["q", "--url", "redis://127.0.0.1:1/0", "--concurrency", "200", "--burst"],
    ["q", "-c", "7", "--threads=4", "--serializer", "pickle", "--lease", "12.5", "--grace", "3",
     "--max-deliveries", "0", "--name", "w1", "--log-level", "DEBUG", "--no-burst"],
    ["--import", "tests.tasks", "q", "--processes", "auto"],
]


def typer_reading(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def capture(queues: list[str], **options: Any) -> None:
        seen.update(options, queues=queues)

    monkeypatch.setattr(typer_worker, "start_worker", capture)
    typer_app()(["worker", *argv], standalone_mode=False)
    return seen


@pytest.mark.parametrize("argv", ARGVS)
def test_the_fast_parser_reads_worker_arguments_as_the_typer_command_does(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AQUEUE_URL", raising=False)
    fast = parse(argv)
    assert fast is not None
    typed = typer_reading(argv, monkeypatch)
    assert {k: v for k, v in typed.items() if k in fast} == fast
    # what the fast parser leaves out, start_worker's defaults fill in: typer's defaults
    defaults = {"url": None, "burst": False, "threads": None, "serializer": "json",
                "name": None, "log_level": "INFO", "processes": None, "concurrency": 10}
    assert {k: typed[k] for k in typed.keys() - fast.keys() if k in defaults} == {
        k: defaults[k] for k in typed.keys() - fast.keys() if k in defaults}


def test_the_fast_parser_reads_the_url_from_aqueue_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AQUEUE_URL", "redis://127.0.0.1:2/0")
    assert parse(["q"]) == {"queues": ["q"], "imports": [], "cron": [], "url": "redis://127.0.0.1:2/0"}
    assert typer_reading(["q"], monkeypatch)["url"] == "redis://127.0.0.1:2/0"


@pytest.mark.parametrize("argv", [
    [], ["q", "--help"], ["q", "--bogus"], ["q", "-c", "0"], ["q", "-c", "ten"],
    ["q", "--lease", "1e3"], ["q", "--url", "a", "--url", "b"], ["q", "--name"],
    ["q", "--name", "-x"], ["q", "-c=5"], ["q", "--", "-c"],
])
def test_the_fast_parser_leaves_what_it_is_not_sure_of_to_typer(argv: list[str]) -> None:
    assert parse(argv) is None


def test_aqueue_worker_starts_without_importing_typer_or_the_producers(redis_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "aqueue", "worker", "q", "--url", redis_url,
         "--import", "tests.tasks", "--burst"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:")}
    assert "aqueue.worker.worker" in imported
    assert not {"typer", "pydantic", "rich", "aqueue.client.async_queue"} & imported


def test_a_worker_usage_error_still_reads_like_typers() -> None:
    done = subprocess.run([sys.executable, "-m", "aqueue", "worker", "q", "-c", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Invalid value for '--concurrency'" in done.stderr
