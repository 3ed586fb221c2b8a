"""The ``aqueue`` Typer app and what every command shares: the URL option, running a
coroutine, and one-line errors with documented exit codes (1: a runtime failure such as
Redis unreachable; 2: a usage error)."""

from __future__ import annotations

from typing import Annotated, NoReturn, TypeVar

import typer

from aqueue.cli.worker_start import run_async as run_async  # shared by every command

T = TypeVar("T")
app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="aqueue: an asyncio-native task queue on Redis.")


def _version(value: bool) -> None:
    if value:
        from aqueue import __version__

        typer.echo(f"aqueue {__version__}")
        raise typer.Exit()


@app.callback()
def _options(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")]
        = False) -> None:
    """aqueue: an asyncio-native task queue on Redis."""

# No default in the signature: --help would print $AQUEUE_URL, password included.
UrlOption = Annotated[str | None, typer.Option(
    envvar="AQUEUE_URL", show_envvar=True, show_default=False,
    help="Redis URL (default redis://127.0.0.1:6379/0).")]


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one error line and exit with ``code``."""
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(code)
