"""Serializers turn arguments and results into bytes stored in Redis.

JSON is the default: safe to decode whatever is in Redis. Pickle is opt-in, on both
the producer and the worker, because unpickling runs code chosen by whoever wrote
the payload. Any object with ``dumps(obj) -> bytes`` and ``loads(bytes) -> obj`` works.
"""

from __future__ import annotations

import json
import pickle
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Serializer(Protocol):
    def dumps(self, obj: Any) -> bytes | str: ...

    def loads(self, data: bytes) -> Any: ...


class JSONSerializer:
    """Compact JSON; tuples come back as lists."""

    _encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    _decoder = json.JSONDecoder()

    def dumps(self, obj: Any) -> bytes:
        return self._encoder.encode(obj).encode()

    def loads(self, data: bytes) -> Any:
        return self._decoder.decode(data.decode())


class PickleSerializer:
    """Any picklable object. Only for producers and workers you trust."""

    def dumps(self, obj: Any) -> bytes:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)

    def loads(self, data: bytes) -> Any:
        return pickle.loads(data)


SERIALIZERS: dict[str, Serializer] = {"json": JSONSerializer(), "pickle": PickleSerializer()}


def get_serializer(name_or_obj: str | Serializer | None) -> Serializer:
    """Resolve ``"json"``, ``"pickle"``, an object with dumps/loads, or None (JSON)."""
    if name_or_obj is None:
        return SERIALIZERS["json"]
    if isinstance(name_or_obj, str):
        try:
            return SERIALIZERS[name_or_obj]
        except KeyError:
            raise ValueError(
                f"unknown serializer {name_or_obj!r}; choose one of {sorted(SERIALIZERS)}"
                " or pass an object with dumps() and loads()"
            ) from None
    if not isinstance(name_or_obj, Serializer):
        raise TypeError(f"serializer {name_or_obj!r} has no dumps()/loads() methods")
    return name_or_obj
