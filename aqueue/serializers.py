"""Serializers turn arguments and results into bytes stored in Redis.

JSON is the default: safe to decode whatever is in Redis. Pickle is opt-in, on both
the producer and the worker, because unpickling runs code chosen by whoever wrote
the payload. Any object with ``dumps(obj) -> bytes`` and ``loads(bytes) -> obj`` works.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class Serializer(Protocol):
    def dumps(self, obj: Any) -> bytes | str: ...

    def loads(self, data: bytes) -> Any: ...


# Bytes a JSON string must escape. A long ASCII string without them is its own encoding
# between quotes: checking that (bytes.translate, at C speed) costs a third of what the
# json module spends escaping it character by character.
_ESCAPED = bytes(range(0x20)) + b'"\\'
LONG_STRING = 1024


def _plain_string(text: str) -> bytes | None:
    """``text``'s bytes if it is ASCII and needs no escaping in JSON; else None."""
    if not text.isascii():
        return None
    data = text.encode()
    if len(data.translate(None, _ESCAPED)) != len(data):
        return None
    return data


def _long(value: Any) -> bool:
    return type(value) is str and len(value) >= LONG_STRING


def _one_shot_encoder(encoder: json.JSONEncoder) -> Callable[[Any], str]:
    """``encoder.encode`` without building a C encoder at every call (``iterencode`` does:
    a third of the time of encoding ``[1, "a"]``). No circular-reference check: a circular
    value raises RecursionError instead of ValueError."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without the C accelerator
        return encoder.encode
    chunks = make(None, encoder.default, json.encoder.encode_basestring, None,
                  encoder.key_separator, encoder.item_separator, encoder.sort_keys,
                  encoder.skipkeys, encoder.allow_nan)

    def encode(obj: Any) -> str:
        if type(obj) is str:
            return encoder.encode(obj)
        return "".join(chunks(obj, 0))

    return encode


class JSONSerializer:
    """Compact JSON; tuples come back as lists."""

    _encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    _encode = staticmethod(_one_shot_encoder(_encoder))
    _decoder = json.JSONDecoder()

    def dumps(self, obj: Any) -> bytes:
        # Long strings at the top level (an argument, a keyword argument, a result) skip
        # the json module's escaping when they need none; the bytes are the same.
        kind = type(obj)
        if kind is str and len(obj) >= LONG_STRING:
            parts: list[bytes] = []
            if self._string(obj, parts):
                return b"".join(parts)
        elif kind is list or kind is tuple:  # the encoder passes *args as a tuple
            for value in obj:  # a plain loop: this runs for every enqueue
                if type(value) is str and len(value) >= LONG_STRING:
                    return self._list(obj)
        elif kind is dict:
            for value in obj.values():
                if type(value) is str and len(value) >= LONG_STRING:
                    if all(type(k) is str for k in obj):
                        return self._dict(obj)
                    break
        return self._encode(obj).encode()

    def _list(self, obj: list[Any] | tuple[Any, ...]) -> bytes:
        parts = [b"["]
        for i, value in enumerate(obj):
            if i:
                parts.append(b",")
            self._value(value, parts)
        parts.append(b"]")
        return b"".join(parts)

    def _dict(self, obj: dict[str, Any]) -> bytes:
        parts = [b"{"]
        for i, (key, value) in enumerate(obj.items()):
            parts.append(b"," if i else b"")
            self._value(key, parts)
            parts.append(b":")
            self._value(value, parts)
        parts.append(b"}")
        return b"".join(parts)

    def _string(self, text: str, parts: list[bytes]) -> bool:
        data = _plain_string(text)
        if data is None:
            return False
        parts += (b'"', data, b'"')
        return True

    def _value(self, value: Any, parts: list[bytes]) -> None:
        if not (_long(value) and self._string(value, parts)):
            parts.append(self._encode(value).encode())

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
