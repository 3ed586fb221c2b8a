"""The aqueue dashboard: an ASGI app (Starlette) to mount in your own app or run alone.

    from aqueue.dashboard import dashboard
    app.mount("/aqueue", dashboard(url="redis://127.0.0.1:6379/0"))

or ``aqueue dashboard --url redis://... --port 9181``. It reads and acts only through
``AsyncAdmin`` and ``AsyncQueue``, the API the CLI and your code use. See
docs/dashboard.md for auth, read-only mode and the search index.
"""

from aqueue.dashboard.app import dashboard
from aqueue.dashboard.security import Access

__all__ = ["Access", "dashboard"]
