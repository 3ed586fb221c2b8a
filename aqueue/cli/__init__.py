"""The ``aqueue`` command, one module per command group."""

from aqueue.cli import cron, demo, flow, info, jobs, worker
from aqueue.cli.app import app

__all__ = ["app", "cron", "demo", "flow", "info", "jobs", "main", "worker"]


def main() -> None:
    app()
