"""The ``aqueue`` command, one module per command group."""

from __future__ import annotations

import sys

import typer

from aqueue.cli import alerts, cron, dashboard, demo, flow, info, jobs, worker
from aqueue.cli.app import app

__all__ = ["alerts", "app", "cron", "dashboard", "demo", "flow", "info", "jobs", "main",
           "worker"]


def main() -> None:
    """Run the CLI; a usage error is one line on stderr and exit code 2."""
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        _exit("aborted", 130)
    except Exception as exc:
        # Click's exceptions (typer vendors click in recent versions: matched by shape).
        if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
            raise
        hint = ""
        if any(cls.__name__ == "UsageError" for cls in type(exc).__mro__):
            ctx = getattr(exc, "ctx", None)
            command = ctx.command_path if ctx is not None else "aqueue"
            hint = f" (see {command} --help)"
        _exit(f"error: {exc.format_message()}{hint}", int(exc.exit_code))
    sys.exit(code if isinstance(code, int) else 0)


def _exit(message: str, code: int) -> None:
    typer.secho(message, fg="red", err=True)
    sys.exit(code)
