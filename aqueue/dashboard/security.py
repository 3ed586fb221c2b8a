"""Who may see and act: the auth hook, read-only mode, and CSRF protection of actions.

``auth`` is any callable (sync or async) taking the Starlette ``Request``; it returns
``Access.WRITE`` (or True) to allow everything, ``Access.READ`` to allow looking only,
``Access.NONE`` (or False/None) to refuse with 403, or a ``Response`` to send instead
(a redirect to your login page, a 401 asking for basic auth). It sees what the host
app's middleware put on the request (``request.user``, ``request.session``...).

Actions are POSTs that carry ``X-CSRF-Token``: an HMAC, with a secret of this process
(or the one given), of a random cookie set with ``SameSite=Strict``. Another site can
make a browser send the cookie, but cannot read the page that holds the token.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import inspect
import os
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

CSRF_COOKIE = "aqueue_csrf"
CSRF_HEADER = "x-csrf-token"


class Access(enum.IntEnum):
    NONE = 0
    READ = 1
    WRITE = 2


AuthResult = Access | bool | None | Response
AuthHook = Callable[[Request], AuthResult | Awaitable[AuthResult]]


async def access_of(auth: AuthHook | None, request: Request, read_only: bool
                    ) -> Access | Response:
    """What ``request`` may do: the hook's answer, capped at READ in read-only mode."""
    if auth is None:
        granted: Any = Access.WRITE
    else:
        granted = auth(request)
        if inspect.isawaitable(granted):
            granted = await granted
    if isinstance(granted, Response):
        return granted
    if granted is True:
        level = Access.WRITE
    elif granted is None or granted is False:
        level = Access.NONE
    elif isinstance(granted, Access):
        level = granted
    else:
        raise TypeError(f"the dashboard's auth hook returned {granted!r}: return an Access, "
                        "True/False, or a Response")
    return min(level, Access.READ) if read_only else level


class Csrf:
    def __init__(self, secret: bytes | None = None) -> None:
        self.secret = secret or os.urandom(32)

    def token(self, cookie: str) -> str:
        return hmac.new(self.secret, cookie.encode(), hashlib.sha256).hexdigest()

    def cookie_for(self, request: Request) -> tuple[str, bool]:
        """The browser's CSRF cookie, and whether it is new (to be set)."""
        value = request.cookies.get(CSRF_COOKIE, "")
        if len(value) == 32 and all(c in "0123456789abcdef" for c in value):
            return value, False
        return os.urandom(16).hex(), True

    def check(self, request: Request) -> str | None:
        """None if the request carries a valid token, else why not."""
        cookie = request.cookies.get(CSRF_COOKIE)
        sent = request.headers.get(CSRF_HEADER, "")
        if not cookie:
            return "no CSRF cookie: reload the page"
        if not hmac.compare_digest(sent, self.token(cookie)):
            return "missing or wrong CSRF token: reload the page"
        origin = request.headers.get("origin")
        if origin and origin.split("://", 1)[-1] != request.headers.get("host", ""):
            return f"cross-origin request from {origin} refused"
        return None


def set_csrf_cookie(response: Response, value: str, path: str) -> None:
    response.set_cookie(CSRF_COOKIE, value, httponly=True, samesite="strict", path=path or "/")
