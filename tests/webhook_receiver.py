"""A webhook receiver on loopback for the alert tests: records what is POSTed to it."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """``with Receiver() as r:`` serves ``r.url``; ``r.posts`` are the JSON bodies received
    (only those it answered 200). ``fail_next(n)`` answers the next n posts with 500."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.refused = 0
        self._fail = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    failing = receiver._fail > 0
                    if failing:
                        receiver._fail -= 1
                        receiver.refused += 1
                    else:
                        receiver.posts.append(json.loads(body))
                self.send_response(500 if failing else 200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/T000/secret"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, count: int) -> None:
        with self._lock:
            self._fail = count

    def states(self) -> list[tuple[str, str]]:
        """(alert, state) of each post, in order."""
        with self._lock:
            return [(p["alert"], p["state"]) for p in self.posts]

    def wait_for(self, count: int, timeout: float = 20) -> list[tuple[str, str]]:
        deadline = time.monotonic() + timeout
        while len(self.states()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} posts expected, got {self.states()}")
            time.sleep(0.02)
        return self.states()
