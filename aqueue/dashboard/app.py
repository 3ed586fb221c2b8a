"""``dashboard()``: the Starlette app, its access guard, its static files and its
``/metrics``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from importlib import resources

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from aqueue.client.admin import AsyncAdmin
from aqueue.dashboard.routes import routes
from aqueue.dashboard.security import Access, AuthHook, access_of
from aqueue.dashboard.state import DashboardState, Settings
from aqueue.serializers import Serializer


def dashboard(
    url: str | None = None,
    *,
    admin: AsyncAdmin | None = None,
    read_only: bool = False,
    auth: AuthHook | None = None,
    queues: Sequence[str] | None = None,
    title: str = "aqueue",
    serializer: str | Serializer | None = None,
    interval: float = 1.0,
    csrf_secret: bytes | None = None,
) -> Starlette:
    """The dashboard as an ASGI app: ``app.mount("/aqueue", dashboard(url=...))``.

    ``url`` (or ``admin``, an ``AsyncAdmin`` to share) says which Redis; ``read_only``
    hides and refuses every action; ``auth(request)`` decides who may look or act (see
    ``aqueue.dashboard.security``); ``queues`` limits it to those queues (default: every
    queue found); ``serializer`` decodes arguments and results for display (JSON by
    default: a pickle serializer would run code from Redis, so only pass one you trust);
    ``interval`` is seconds between live updates; ``csrf_secret`` shares CSRF tokens
    between processes behind one load balancer.
    """
    if admin is not None and url is not None:
        raise ValueError("give url= or admin=, not both")
    if interval <= 0:
        raise ValueError(f"interval must be more than 0 seconds, got {interval!r}")
    if auth is not None and not callable(auth):
        raise TypeError(f"auth must be a callable taking the request, got {auth!r}")
    from aqueue.serializers import get_serializer

    settings = Settings(url=url, read_only=read_only, auth=auth,
                        queues=list(queues) if queues is not None else None, title=title,
                        serializer=get_serializer(serializer), interval=interval,
                        csrf_secret=csrf_secret)
    state = DashboardState(settings, admin)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await state.close()

    app = Starlette(routes=_all_routes(state), lifespan=lifespan,
                    middleware=[Middleware(Guard, state=state)])
    app.state.dashboard = state
    return app


def _all_routes(state: DashboardState) -> list[BaseRoute]:
    static = StaticFiles(directory=str(resources.files("aqueue.dashboard") / "static"))
    out = [Mount("/static", app=static, name="static"), *routes()]
    metrics = _metrics_app(state)
    if metrics is not None:
        out.append(Route("/metrics", endpoint=metrics))
    return out


def _metrics_app(state: DashboardState) -> ASGIApp | None:
    """``/metrics``: aqueue.observe's queue exposition (depths, oldest job, totals, live
    workers) for Prometheus. The admin is read when the first scrape comes, in the
    server's event loop."""
    from aqueue.observe.exposition import QueueExporter, metrics_app

    return _LazyMetrics(lambda: metrics_app(QueueExporter(state.admin, state.settings.queues)))


class _LazyMetrics:
    """An ASGI app built on the first request (a class, so that a Route serves it as an
    ASGI app at exactly ``/metrics``)."""

    def __init__(self, build: Callable[[], ASGIApp]) -> None:
        self.build = build
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            self.app = self.build()
        await self.app(scope, receive, send)


class Guard:
    """Asks the auth hook about every request (static files excepted) and notes the
    answer in ``scope["state"]["aqueue_access"]``; refused requests end here."""

    def __init__(self, app: ASGIApp, state: DashboardState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _relative_path(scope).startswith("/static/"):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        settings = self.state.settings
        granted = await access_of(settings.auth, request, settings.read_only)
        if isinstance(granted, Response):
            await granted(scope, receive, send)
            return
        if granted <= Access.NONE:
            await PlainTextResponse("forbidden", status_code=403)(scope, receive, send)
            return
        scope.setdefault("state", {})["aqueue_access"] = granted
        await self.app(scope, receive, send)


def _relative_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path
