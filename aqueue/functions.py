"""Naming functions on the producer side, and resolving them on the worker side.

A job stores its function as ``"module.qualname"``. A worker resolves that name only
inside the modules its operator listed (``--import``), and only to callables defined
there: a job naming ``os.system`` or ``myapp.tasks.os.system`` is refused, and nothing
is imported on a job's behalf.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aqueue.errors import FunctionNotAllowed


def function_name(fn: Callable[..., Any] | str) -> str:
    """The dotted name a worker will resolve; raises ``ValueError`` if it cannot."""
    if isinstance(fn, str):
        module_part, _, attr = fn.rpartition(".")
        if not module_part or not attr:
            raise ValueError(f"function name {fn!r} must be 'module.function'")
        return fn
    module: str | None = getattr(fn, "__module__", None)
    qualname: str | None = getattr(fn, "__qualname__", None)
    if not callable(fn) or not module or not qualname:
        raise TypeError(f"{fn!r} is not a function a worker can import")
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
            self._modules[name] = importlib.import_module(name)
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


def _describe(name: str, fn: Callable[..., Any]) -> Function:
    target = getattr(fn, "__func__", fn)
    return Function(name=name, call=fn, is_async=inspect.iscoroutinefunction(target))
