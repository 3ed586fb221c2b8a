"""The ``aqueue`` command, one module per command group.

``aqueue worker ...`` starts without typer when ``worker_start.parse`` can read its
arguments (see there); every other command, and ``--help``, goes through the typer app
(``typer_app()``). Either way a usage error is one line on stderr and exit code 2.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["main", "typer_app"]


def main() -> None:
    argv = sys.argv[1:]
    if argv[:1] == ["worker"]:
        from aqueue.cli.worker_start import parse, start_worker

        options = parse(argv[1:])
        if options is not None:
            start_worker(options.pop("queues"), **options)
            return
    _run_typer()


def typer_app() -> Any:
    """The typer app with every command registered."""
    from aqueue.cli import (  # noqa: F401  (they register their commands)
        alerts,
        cron,
        dashboard,
        demo,
        flow,
        info,
        jobs,
        worker,
    )
    from aqueue.cli.app import app

    return app


def _run_typer() -> None:
    import typer

    try:
        code = typer_app()(standalone_mode=False)
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
    import typer

    typer.secho(message, fg="red", err=True)
    sys.exit(code)
