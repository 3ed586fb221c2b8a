"""Turning ``fn(*args, **kwargs)`` plus options into a job ready to send: one
implementation for ``AsyncQueue`` and the sync ``Queue``.

Everything that can be wrong with a job is found here, before anything is sent: a function
a worker cannot import, arguments that do not fit its signature or cannot be serialized,
a payload over the queue's limit, an option out of range.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aqueue.errors import PayloadTooLarge, SerializationError
from aqueue.functions import check_arguments, function_name
from aqueue.job import JobStatus
from aqueue.options import RQ_NAMES, QueueDefaults, Resolved, resolve
from aqueue.serializers import JSONSerializer, Serializer

FunctionRef = Callable[..., Any] | str
DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024
APART = 8 * 1024  # serialized arguments from this size on are written apart (Draft)


@dataclass(slots=True)
class Draft:
    """A job encoded for ``scripts/enqueue.lua``, before Redis has seen it."""

    id: str
    func: str
    args: bytes
    kwargs: bytes
    options: Resolved
    nonce: str
    due_mode: str  # "" (now), "at" (a Unix time) or "in" (seconds from now)
    due: float
    trace: dict[str, str] | None = None  # W3C traceparent/tracestate, set while tracing
    existing: str | None = None  # set by the enqueue: a unique/debounced job kept instead

    @property
    def written_apart(self) -> bool:
        """Whether the arguments go in an HSET of their own, in the same MULTI as the
        script, instead of through it: Lua copies every argument into a string and again
        into the command it calls, which for 64 KiB costs Redis about 40% more CPU than
        the enqueue itself. Only for a random id, which no other job can hold (an HSET
        before the script's checks must not overwrite another job's arguments), and not
        for a flow directive, which may keep another job instead of writing this one."""
        return (self.options.job_id is None and self.options.flow is None
                and len(self.args) + len(self.kwargs) >= APART)

    def wire(self, with_arguments: bool = True) -> list[Any]:
        """This job's values for ``scripts/enqueue.lua``, in its order."""
        o = self.options
        pairs: list[Any] = ["func", self.func]
        if with_arguments:
            pairs += ["args", self.args, "kwargs", self.kwargs]
        pairs += ["timeout", o.job_timeout, "result_ttl", o.result_ttl,
                  "failure_ttl", o.failure_ttl]
        if o.retry is not None:
            pairs += ["retry", o.retry.to_json()]
        if o.description:
            pairs += ["description", o.description]
        if o.control is not None:
            pairs += o.control.pairs
        if o.flow is not None:  # the directive goes first: scripts/_flow.lua looks there
            pairs[:0] = ["flow", o.flow.wire(self.func, self.args, self.kwargs)]
        if self.trace:
            for name, value in self.trace.items():
                pairs += [name, value]
        explicit = o.job_id is not None
        if explicit:
            pairs += ["nonce", self.nonce]
        return [self.id, "1" if explicit else "0", self.nonce, self.due_mode, self.due,
                len(pairs) // 2, *pairs]

    def record(self, queue_name: str, now: float) -> dict[str, Any]:
        """The fields of the Job the caller gets back, once Redis's time ``now`` is known."""
        o = self.options
        scheduled = {"at": self.due, "in": now + self.due}.get(self.due_mode)
        if o.flow is not None and o.flow.debounce is not None:
            scheduled = now + o.flow.debounce.wait
        due_later = scheduled is not None and scheduled > now
        status = JobStatus.SCHEDULED if due_later else JobStatus.QUEUED
        return {
            "id": self.id, "queue_name": queue_name, "func": self.func,
            "status": JobStatus.DEFERRED if o.depends is not None else status,
            "args": self.args, "kwargs": self.kwargs, "timeout": o.job_timeout,
            "result_ttl": o.result_ttl, "failure_ttl": o.failure_ttl, "retry": o.retry,
            "description": o.description, "enqueued_at": now,
            "meta": dict(o.control.meta or {}) if o.control is not None else {},
            "scheduled_for": scheduled if due_later else None,
        }


class JobEncoder:
    """Builds the drafts of one queue."""

    def __init__(self, queue_name: str, serializer: Serializer, defaults: QueueDefaults,
                 max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        if max_payload < 1:
            raise ValueError(f"max_payload must be a positive number of bytes, got {max_payload}")
        self.queue_name = queue_name
        self.serializer = serializer
        self.defaults = defaults
        self.max_payload = max_payload
        self._default_options = resolve({}, defaults)  # most jobs: no options of their own
        # JSON writes a tuple as a list: the *args tuple needs no copy (pickle's would differ)
        self._tuples_as_lists = type(serializer) is JSONSerializer

    def draft(self, fn: FunctionRef, args: Sequence[Any], kwargs: dict[str, Any],
              options: dict[str, Any], *, due_mode: str = "", due: float = 0.0) -> Draft:
        name = function_name(fn)
        if not isinstance(fn, str):
            check_arguments(fn, name, args, kwargs, RQ_NAMES)
        resolved = resolve(options, self.defaults) if options else self._default_options
        if due_mode and resolved.flow is not None and resolved.flow.debounce is not None:
            raise ValueError("a debounced job runs `wait` seconds after the last enqueue: "
                             "use enqueue(), not enqueue_at() or enqueue_in()")
        if due_mode and resolved.depends is not None:
            raise ValueError("a job with depends_on runs when its parents have ended: use "
                             "enqueue(), not enqueue_at() or enqueue_in()")
        encoded_args = b"[]" if not args else self._encode(
            name, args if self._tuples_as_lists else list(args), args, "args")
        encoded_kwargs = b"{}" if not kwargs else self._encode(name, kwargs, kwargs, "kwargs")
        size = len(encoded_args) + len(encoded_kwargs)
        if size > self.max_payload:
            raise PayloadTooLarge(
                f"the arguments of {name} are {_size(size)} serialized, over this queue's "
                f"max_payload of {_size(self.max_payload)}: store large data elsewhere and "
                "pass a reference, or raise max_payload")
        random = os.urandom(24).hex()  # one system call for the id and the nonce
        return Draft(id=resolved.job_id or random[16:], func=name, args=encoded_args,
                     kwargs=encoded_kwargs, options=resolved, nonce=random[:16],
                     due_mode=due_mode, due=due)

    def _encode(self, func: str, value: Any, items: Sequence[Any] | dict[str, Any],
                which: str) -> bytes:
        try:
            data = self.serializer.dumps(value)
        except Exception as exc:
            pairs = enumerate(items) if isinstance(items, Sequence) else items.items()
            for key, item in pairs:
                try:
                    self.serializer.dumps(item)
                except Exception as item_exc:
                    what = f"argument {key}" if which == "args" else f"keyword argument {key!r}"
                    raise SerializationError(
                        f"{what} of {func} ({type(item).__name__}) cannot be serialized by "
                        f"{type(self.serializer).__name__}: {item_exc}") from item_exc
            raise SerializationError(f"the {which} of {func} cannot be serialized: {exc}") from exc
        return data.encode() if isinstance(data, str) else data


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} bytes"
