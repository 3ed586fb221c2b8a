"""The enqueue options of job control (``meta``, ``on_success``, ``on_failure``),
checked at enqueue and turned into the fields the job is written with."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aqueue.functions import function_name

CONTROL_OPTIONS = frozenset({"meta", "on_success", "on_failure"})
MAX_META = 64 * 1024  # bytes of JSON


@dataclass(frozen=True, slots=True)
class ControlOptions:
    """Checked job-control options: the job hash fields they add, in wire order."""

    pairs: tuple[str, ...]
    meta: dict[str, Any] | None = None


def resolve_control(options: Mapping[str, Any]) -> ControlOptions | None:
    """None unless the job uses one of the options (the usual case: nothing to do)."""
    if "meta" not in options and "on_success" not in options and "on_failure" not in options:
        return None
    pairs: list[str] = []
    meta = options.get("meta")
    if meta is not None:
        pairs += ["meta", encode_meta(meta)]
    for name in ("on_success", "on_failure"):
        fn = options.get(name)
        if fn is not None:
            pairs += [name, callback_name(name, fn)]
    return ControlOptions(tuple(pairs), dict(meta) if meta is not None else None)


def encode_meta(meta: Any) -> str:
    """``meta`` as JSON: a dict with string keys of JSON values (TypeError otherwise)."""
    if not isinstance(meta, Mapping):
        raise TypeError(f"meta takes a dict of JSON values, got {type(meta).__name__}")
    try:
        text = json.dumps(dict(meta), allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"meta must be JSON-able (a dict of str, numbers, bools, None, lists "
                        f"and dicts): {exc}") from None
    if any(not isinstance(k, str) for k in meta):
        raise TypeError("meta keys must be strings")
    if len(text) > MAX_META:
        raise ValueError(f"meta is {len(text)} bytes of JSON; at most {MAX_META}")
    return text


def callback_name(option: str, fn: Callable[..., Any] | str) -> str:
    """The dotted name of a callback; ``ValueError``/``TypeError`` if no worker could find
    it (a lambda, a nested function, a name a loaded module does not define)."""
    if not isinstance(fn, str) and not callable(fn):
        raise TypeError(f"{option} takes a function or its dotted name, got "
                        f"{type(fn).__name__}")
    try:
        name = function_name(fn)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{option}: {exc}") from None
    module_name, _, attr = name.rpartition(".")
    module = sys.modules.get(module_name)
    if isinstance(fn, str) and module is not None and not callable(getattr(module, attr, None)):
        raise ValueError(f"{option}: unknown callback function {name!r}: module "
                         f"{module_name} has no function {attr!r}")
    return name


def finite(value: float, what: str) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise TypeError(f"{what} takes a finite number, got {value!r}")
    return float(value)
