"""What a Redis error means for the caller: retry later, follow a redirect, or give up.

aqueue keeps redis-py's exception classes (``redis.exceptions``) so that users and the
worker's loops see the errors they know; this module adds the two things a lean client
needs to know about an error: was the command possibly executed, and is it worth trying
again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeGuard

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from aqueue.store.urls import Address

# Errors a loop waits out: Redis unreachable, or refusing for now.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)

# Error replies that say "not now" rather than "never"; anything else is about the request.
_TRANSIENT_REPLIES = ("OOM", "LOADING", "READONLY", "MISCONF", "BUSY", "MASTERDOWN",
                      "NOREPLICAS", "TRYAGAIN", "CLUSTERDOWN", "NOSCRIPT", "MOVED", "ASK",
                      "UNBLOCKED")
# A script's redis.call refused by the ACL. Redis 7.0 names the line, not the command
# ("The user executing the script can't run this command..."); Valkey 8 (and Redis 7.2)
# say "ACL failure in script: User u has no permissions to run the 'zadd' command".
_SCRIPT_DENIED = re.compile(r"(?:The user executing the script can't|ACL failure in script: "
                            r"User \S+ has no permissions to) (.*?) script: \w+, "
                            r"on @user_script:(\d+)")
_CALLED = re.compile(r"redis\.p?call\(\s*\"(\w+)\"")

# Replies from a server that is not (or no longer) the primary: look for the primary again.
# (UNBLOCKED: a blocking command cut short because the server became a replica.)
_NOT_PRIMARY_REPLIES = ("READONLY", "MASTERDOWN", "NOREPLICAS", "UNBLOCKED")


class ConnectionLost(RedisConnectionError):
    """The connection broke while a command was pending. ``sent`` tells whether the command
    had been written: if so, Redis may have executed it."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


class ReplyTimeout(RedisTimeoutError):
    """No reply within the socket timeout; the command may have been executed."""

    sent = True


def is_request_error(exc: BaseException) -> bool:
    """An error reply that sending the same request again will not cure (about this
    request: an ACL refusal is about every request, and is not one)."""
    return (isinstance(exc, ResponseError) and not str(exc).startswith(_TRANSIENT_REPLIES)
            and not is_permission_error(exc))


def is_permission_error(exc: BaseException) -> bool:
    """Refused by the Redis user's ACL: waiting will not help, the ACL must change."""
    return isinstance(exc, ResponseError) and str(exc).startswith("NOPERM")


def explain_script_error(name: str, source: str, exc: ResponseError) -> ResponseError:
    """A script's ACL refusal as a ``NOPERM`` error naming the command it was refused."""
    text = str(exc)
    denied = _SCRIPT_DENIED.search(text)
    if denied is None:
        return exc
    what, line = denied.group(1), int(denied.group(2))
    lines = source.splitlines()
    code = lines[line - 1].strip() if 0 < line <= len(lines) else "?"
    called = _CALLED.search(code)
    command = called.group(1).upper() if called else f"the command of `{code}`"
    if "run this command" in what or what.startswith("run the "):
        problem = f"may not run {command}"
    else:  # "access at least one of the keys...", "publish to the channel..."
        problem = f"was refused by the ACL for {command}: it can't {what}"
    return ResponseError(f"NOPERM the Redis user {problem} (in aqueue's {name} script, "
                         f"line {line})")


_RETRY_LATER = ("TRYAGAIN", "CLUSTERDOWN")


def is_not_primary(exc: BaseException) -> bool:
    return isinstance(exc, ResponseError) and str(exc).startswith(_NOT_PRIMARY_REPLIES)


def ask_again_later(exc: BaseException, mode: str) -> bool:
    """A refusal that a failover or a slot's move ends (not the primary, TRYAGAIN,
    CLUSTERDOWN): with Sentinel or a cluster, worth sending again after a pause."""
    return mode != "standalone" and (
        is_not_primary(exc) or (isinstance(exc, ResponseError) and str(exc).startswith(
            _RETRY_LATER)))


def is_protocol_error(error: object) -> TypeGuard[ResponseError]:
    """Redis's reply to a request it cannot parse, such as an argument over its
    proto-max-bulk-len (it then closes the connection, having run nothing after it)."""
    return isinstance(error, ResponseError) and str(error).startswith("ERR Protocol error")


def maybe_executed(exc: BaseException) -> bool:
    """Whether the failed command may have run on the server anyway."""
    if isinstance(exc, ResponseError):
        return False  # an error reply: the command did not run (or ran and failed)
    return bool(getattr(exc, "sent", True))


@dataclass(frozen=True, slots=True)
class Redirect:
    """A ``MOVED`` (the slot lives elsewhere now) or ``ASK`` (ask there, once) reply."""

    ask: bool
    slot: int
    address: Address


def redirect_of(exc: BaseException) -> Redirect | None:
    if not isinstance(exc, ResponseError):
        return None
    text = str(exc)
    if not text.startswith(("MOVED ", "ASK ")):
        return None
    kind, slot, target = text.split()[:3]
    host, _, port = target.rpartition(":")
    return Redirect(kind == "ASK", int(slot), Address(host, int(port)))
