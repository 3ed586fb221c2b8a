"""The ``aqueue`` command, one module per command group."""

from aqueue.cli import alerts, demo, info, jobs, worker
from aqueue.cli.app import app

__all__ = ["alerts", "app", "demo", "info", "jobs", "main", "worker"]


def main() -> None:
    app()
