"""Naming functions on the producer side, and resolving them on the worker side.

A job stores its function as ``"module.qualname"``. A worker resolves that name only
inside the modules its operator listed (``--import``), and only to callables defined
there: a job naming ``os.system`` or ``myapp.tasks.os.system`` is refused, and nothing
is imported on a job's behalf.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from aqueue.errors import FunctionNotAllowed, ImportFailed
from aqueue.log_text import clip

_names: dict[Callable[..., Any], str] = {}


def function_name(fn: Callable[..., Any] | str) -> str:
    """The dotted name a worker will resolve; raises ``ValueError`` if it cannot."""
    if isinstance(fn, str):
        module_part, _, attr = fn.rpartition(".")
        if not module_part or not attr:
            raise ValueError(f"function name {fn!r} must be 'module.function'")
        return fn
    try:
        return _names[fn]  # checked once per function: enqueue is a hot path
    except (KeyError, TypeError):
        pass
    name = _checked_name(fn)
    with contextlib.suppress(TypeError):  # an unhashable callable: not cached
        _names[fn] = name
    return name


def _checked_name(fn: Callable[..., Any]) -> str:
    module: str | None = getattr(fn, "__module__", None)
    qualname: str | None = getattr(fn, "__qualname__", None)
    if not callable(fn) or not module or not qualname:
        raise TypeError(f"{fn!r} is not a function a worker can import")
    if inspect.ismethod(fn):
        raise ValueError(
            f"{qualname} is a bound method (of {type(fn.__self__).__name__} "
            f"{clip(repr(fn.__self__), 60)}): a worker cannot recreate that object; enqueue a "
            "module-level function and pass it the data it needs")
    if "<locals>" in qualname or "<lambda>" in qualname:
        raise ValueError(
            f"{qualname} is a lambda or a nested function; a worker can only run functions "
            "defined at the top level of a module"
        )
    if module == "__main__":
        raise ValueError(
            f"{qualname} is defined in __main__, which a worker cannot import; move it into a "
            "module and start the worker with --import that.module"
        )
    return f"{module}.{qualname}"


class _Signature:
    """What a call must look like, precomputed: checking a call against it costs about a
    microsecond, against ~5 for ``Signature.bind``, which only runs to word an error."""

    __slots__ = ("kwonly", "kwonly_required", "max_positional", "names", "open_kwargs",
                 "positional_names", "required_positional", "signature")

    def __init__(self, signature: inspect.Signature) -> None:
        P = inspect.Parameter
        params = list(signature.parameters.values())
        positional = [p for p in params if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)]
        self.signature = signature
        self.positional_names = [p.name for p in positional]
        self.max_positional = (None if any(p.kind is P.VAR_POSITIONAL for p in params)
                               else len(positional))
        self.required_positional = [p.name for p in positional if p.default is P.empty]
        self.kwonly_required = [p.name for p in params
                                if p.kind is P.KEYWORD_ONLY and p.default is P.empty]
        self.kwonly = frozenset(self.kwonly_required)
        self.open_kwargs = any(p.kind is P.VAR_KEYWORD for p in params)
        self.names = frozenset(p.name for p in params if p.kind in
                               (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY))

    def accepts(self, args: Sequence[Any], kwargs: dict[str, Any]) -> bool:
        if self.max_positional is not None and len(args) > self.max_positional:
            return False
        if not self.open_kwargs and not self.names.issuperset(kwargs):
            return False
        for name in self.required_positional[len(args):]:
            if name not in kwargs:
                return False
        # not all(...): that builds a generator at every enqueue, even for no names
        return not self.kwonly_required or self.kwonly.issubset(kwargs)


_signatures: dict[Callable[..., Any], _Signature | None] = {}


def check_arguments(fn: Callable[..., Any], name: str, args: Sequence[Any],
                    kwargs: dict[str, Any], hints: dict[str, str]) -> None:
    """Raise ``TypeError`` naming the argument if ``fn(*args, **kwargs)`` cannot be called,
    before the job is enqueued rather than when a worker runs it. ``hints`` explains names
    that look like options of other queues (``timeout=`` for RQ's ``job_timeout``)."""
    try:
        signature = _signatures[fn]
    except (KeyError, TypeError):
        try:
            signature = _Signature(inspect.signature(fn))
        except (TypeError, ValueError):  # a builtin without a signature: nothing to check
            signature = None
        with contextlib.suppress(TypeError):  # an unhashable callable: not cached
            _signatures[fn] = signature
    if signature is None or signature.accepts(args, kwargs):
        return
    try:
        signature.signature.bind(*args, **kwargs)
    except TypeError as exc:
        message = f"cannot enqueue {name}: {exc}"
        unexpected = [k for k in kwargs if k in hints and k not in signature.names]
        if unexpected and not signature.open_kwargs:
            message += f" ({hints[unexpected[0]]})"
        raise TypeError(message) from None


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    call: Callable[..., Any]
    is_async: bool


class FunctionRegistry:
    """The functions a worker may run: those defined in the modules it was given."""

    def __init__(self, modules: Iterable[str] = (), functions: Iterable[Callable[..., Any]] = ()):
        self._modules: dict[str, Any] = {}
        self._explicit: dict[str, Callable[..., Any]] = {}
        self._cache: dict[str, Function] = {}
        for name in modules:
            self._modules[name] = _import(name)
        for fn in functions:
            self._explicit[function_name(fn)] = fn

    @property
    def modules(self) -> list[str]:
        return sorted(self._modules)

    def resolve(self, name: str) -> Function:
        """The allowed function called ``name``; raises ``FunctionNotAllowed`` otherwise."""
        found = self._cache.get(name)
        if found is None:
            found = self._cache[name] = self._lookup(name)
        return found

    def _lookup(self, name: str) -> Function:
        if name in self._explicit:
            return _describe(name, self._explicit[name])
        module_name, obj = self._longest_allowed_module(name)
        if obj is None:
            raise FunctionNotAllowed(
                f"{name!r} is not in a module this worker was told to import "
                f"(allowed: {', '.join(self.modules) or 'none'}; add one with --import)"
            )
        for attr in name[len(module_name) + 1:].split("."):
            if attr.startswith("__"):
                raise FunctionNotAllowed(f"{name!r}: dunder attributes are never run")
            obj = getattr(obj, attr, None)
            if obj is None:
                raise FunctionNotAllowed(f"{name!r}: module {module_name} has no {attr!r}")
        if not callable(obj) or getattr(obj, "__module__", None) != module_name:
            raise FunctionNotAllowed(
                f"{name!r} is not a function defined in {module_name} (it is "
                f"{type(obj).__name__} from {getattr(obj, '__module__', '?')}); only functions "
                "defined in the allowed modules run"
            )
        return _describe(name, obj)

    def _longest_allowed_module(self, name: str) -> tuple[str, Any]:
        parts = name.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            candidate = ".".join(parts[:cut])
            if candidate in self._modules:
                return candidate, self._modules[candidate]
        return "", None


def _import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except Exception as exc:
        raise ImportFailed(f"cannot import --import module {module!r}: "
                           f"{type(exc).__name__}: {exc}") from exc


def _describe(name: str, fn: Callable[..., Any]) -> Function:
    if getattr(fn, "_is_aqueue_task", False):  # @task: run the function it wraps
        fn = fn.__wrapped__  # type: ignore[attr-defined]
    target = getattr(fn, "__func__", fn)
    return Function(name=name, call=fn, is_async=inspect.iscoroutinefunction(target))
