"""``aqueue dashboard``: the web dashboard, standalone (uvicorn)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from aqueue.cli.app import UrlOption, app, fail


@app.command()
def dashboard(
    url: UrlOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on; other machines can reach "
                                           "it only if you say so (e.g. 0.0.0.0).")]
        = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 9181,
    read_only: Annotated[bool, typer.Option("--read-only", help="Show everything, allow no "
                                                                "action.")] = False,
    queues: Annotated[list[str] | None, typer.Option(
        "--queue", "-q", help="Show only this queue (repeatable; default: every queue).")]
        = None,
    root_path: Annotated[str, typer.Option(help="URL prefix when behind a proxy that "
                                                "serves it under a path.")] = "",
) -> None:
    """Serve the web dashboard (overview, queues, jobs, workers, search, actions)."""
    try:
        import uvicorn

        from aqueue.dashboard import dashboard as build
    except ImportError as exc:
        fail(f"the dashboard needs its extra: pip install 'aqueue-redis[dashboard]' ({exc})", 2)
    from aqueue.store.urls import default_url

    try:
        asgi = build(url or default_url(), read_only=read_only, queues=queues)
    except ValueError as exc:
        fail(str(exc), 2)
    banner = (f"aqueue dashboard on http://{host}:{port}{root_path}/ "
              f"({'read-only, ' if read_only else ''}Ctrl-C to stop)")

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:  # listening: say so now, not before
                typer.echo(banner)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # SIGINT/SIGTERM stop the server and the command exits 0, like `aqueue worker`
            # (uvicorn would raise the signal again and die of it)
            previous = {s: signal.signal(s, self.handle_exit)
                        for s in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    config = uvicorn.Config(asgi, host=host, port=port, root_path=root_path,
                            log_level="warning", timeout_graceful_shutdown=2)
    Server(config).run()
