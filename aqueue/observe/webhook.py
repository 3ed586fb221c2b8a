"""Posting alerts to a webhook: one JSON object per alert, with a ``text`` field, so that
a Slack (or Mattermost, Rocket.Chat...) incoming webhook shows it as it is."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import anyio


class WebhookError(Exception):
    """The webhook could not be reached, or did not answer 2xx."""


class Webhook:
    """``await Webhook(url).send(payload)`` POSTs the payload as JSON (in a thread)."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        try:
            parts.port  # noqa: B018 (raises for a port that is not a number)
        except ValueError:
            raise ValueError(f"the webhook URL has an invalid port: {redact(url)!r}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the webhook must be an http:// or https:// URL, got "
                             f"{redact(url)!r}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.url = url
        self.timeout = timeout

    def describe(self) -> str:
        """The webhook without its path and query, which often hold its secret."""
        return redact(self.url)

    async def send(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        await anyio.to_thread.run_sync(self._post, body)

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(
            self.url, data=body, method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "aqueue-alerts"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise WebhookError(f"{self.describe()} answered {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise WebhookError(f"cannot reach {self.describe()}: {reason}") from None


def redact(url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return "(not a URL)"
    host = parts.hostname or ""
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ":?"
    return f"{parts.scheme}://{host}{port}/..." if parts.path not in ("", "/") else \
        f"{parts.scheme}://{host}{port}/"
