"""``aqueue dashboard``: the web dashboard, standalone (uvicorn)."""

from __future__ import annotations

from typing import Annotated

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
    typer.echo(f"aqueue dashboard on http://{host}:{port}{root_path}/ "
               f"({'read-only, ' if read_only else ''}Ctrl-C to stop)")
    uvicorn.run(asgi, host=host, port=port, root_path=root_path, log_level="warning",
                timeout_graceful_shutdown=2)
