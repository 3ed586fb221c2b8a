"""Redis Cluster's key-to-slot hashing and the slot map (which primary serves which slot)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

from aqueue.store.urls import Address

SLOTS = 16384


def _crc16_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return table


_TABLE = _crc16_table()


def crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc


def key_slot(key: str | bytes) -> int:
    """The cluster slot of ``key``: only the first ``{tag}`` is hashed, if it is non-empty."""
    data = key.encode() if isinstance(key, str) else key
    start = data.find(b"{")
    if start >= 0:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1:end]
    return crc16(data) % SLOTS


class SlotMap:
    """Slot ranges and the primary of each, as read from ``CLUSTER SLOTS``."""

    def __init__(self, ranges: Sequence[tuple[int, int, Address]]) -> None:
        self._ranges = sorted(ranges)
        self._starts = [start for start, _, _ in self._ranges]
        self._moved: dict[int, Address] = {}

    @classmethod
    def from_reply(cls, reply: list[Any], seed: Address) -> SlotMap:
        ranges = []
        for entry in reply:
            start, end, primary = int(entry[0]), int(entry[1]), entry[2]
            host = primary[0].decode() if isinstance(primary[0], bytes) else str(primary[0])
            # An empty host means "the node you asked" (cluster-announce-hostname unset).
            ranges.append((start, end, Address(host or seed.host, int(primary[1]))))
        if not ranges:
            raise ValueError("CLUSTER SLOTS returned no slots: is the cluster set up?")
        return cls(ranges)

    def primary_for(self, slot: int) -> Address | None:
        if slot in self._moved:
            return self._moved[slot]
        index = bisect.bisect_right(self._starts, slot) - 1
        if index >= 0:
            start, end, address = self._ranges[index]
            if start <= slot <= end:
                return address
        return None

    def moved(self, slot: int, address: Address) -> None:
        """Remember a MOVED redirect until the next full refresh."""
        self._moved[slot] = address

    def primaries(self) -> list[Address]:
        seen: dict[Address, None] = {}
        for _, _, address in self._ranges:
            seen.setdefault(address)
        for address in self._moved.values():
            seen.setdefault(address)
        return list(seen)
