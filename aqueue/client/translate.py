"""What producers tell their callers when Redis fails them, and other checks shared by
both clients."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Protocol

from redis.exceptions import AuthenticationError, RedisError, ResponseError

from aqueue.errors import AqueueError, ConnectionFailed, PayloadTooLarge
from aqueue.store.errors import ConnectionLost, is_protocol_error, is_request_error


class _Described(Protocol):
    def describe(self) -> str: ...


def translate(exc: BaseException, action: str, queue: str, store: _Described) -> Exception:
    """One clear error naming the queue and the server (never its password)."""
    where = store.describe()
    if isinstance(exc, AqueueError):
        return exc
    if isinstance(exc, AuthenticationError):
        return ConnectionFailed(f"cannot {action} {queue!r}: {exc}")
    if isinstance(exc, ResponseError):
        text = str(exc)
        if is_protocol_error(exc):
            return PayloadTooLarge(f"cannot {action} {queue!r}: Redis at {where} refused the "
                                   f"request ({text}): an argument is over its "
                                   "proto-max-bulk-len; lower this queue's max_payload")
        if text.startswith("NOPERM"):
            return ConnectionFailed(f"cannot {action} {queue!r}: the Redis user may not do "
                                    f"this at {where}: {text} (see docs/security.md for the "
                                    "ACL aqueue needs)")
        if not is_request_error(exc):
            return ConnectionFailed(f"cannot {action} {queue!r} now: Redis at {where} "
                                    f"refused: {text}")
        return exc
    if isinstance(exc, ConnectionLost) and not exc.sent and action == "enqueue to":
        return ConnectionFailed(f"cannot enqueue to {queue!r}: Redis at {where} is unreachable "
                                f"(nothing was enqueued): {exc}")
    if isinstance(exc, RedisError | OSError):
        return ConnectionFailed(f"cannot {action} {queue!r}: Redis at {where} is "
                                f"unreachable: {exc}")
    return RuntimeError(str(exc))


def due_at(when: datetime | float) -> float:
    """A Unix time from an aware datetime or a number; a naive datetime is refused, since
    it could mean UTC or local time."""
    if isinstance(when, datetime):
        if when.tzinfo is None or when.utcoffset() is None:
            raise TypeError(
                f"enqueue_at() needs an aware datetime, got the naive {when.isoformat()}: "
                "say which clock it is on, e.g. datetime.now(UTC) + timedelta(minutes=5) or "
                "when.replace(tzinfo=ZoneInfo('Europe/Berlin')), or pass a Unix time")
        return when.timestamp()
    if isinstance(when, bool) or not isinstance(when, int | float) or not math.isfinite(when):
        raise TypeError(f"enqueue_at() takes an aware datetime or a Unix time, got {when!r}")
    return float(when)
