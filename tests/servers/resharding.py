"""A live reshard of one hash slot between two cluster primaries, step by step.

The steps of the CLUSTER SETSLOT documentation: the target is marked IMPORTING before
the source is marked MIGRATING (so the target accepts the ASK redirections the source
starts sending), keys move with MIGRATE in batches, and the slot is assigned with
SETSLOT NODE on the target first, then the source, then every other primary.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import redis

BATCH = 100
MIGRATE_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class SlotMove:
    """One slot moving from one primary to another."""

    slot: int
    source_port: int
    source_id: str
    target_port: int
    target_id: str


def _client(port: int) -> redis.Redis:
    return redis.Redis(port=port, decode_responses=True, socket_timeout=10)


def mark(move: SlotMove) -> None:
    """Put the slot in IMPORTING state on the target, then MIGRATING on the source."""
    with _client(move.target_port) as target:
        target.execute_command("CLUSTER", "SETSLOT", move.slot, "IMPORTING", move.source_id)
    with _client(move.source_port) as source:
        source.execute_command("CLUSTER", "SETSLOT", move.slot, "MIGRATING", move.target_id)


def keys_left(move: SlotMove) -> int:
    """How many keys of the slot the source still holds."""
    with _client(move.source_port) as source:
        return int(source.execute_command("CLUSTER", "COUNTKEYSINSLOT", move.slot))


def move_keys(move: SlotMove, limit: int | None = None) -> int:
    """MIGRATE up to ``limit`` keys (all, if None) of the slot from the source to the
    target, ``BATCH`` at a time; returns how many moved."""
    moved = 0
    with _client(move.source_port) as source:
        while limit is None or moved < limit:
            count = BATCH if limit is None else min(BATCH, limit - moved)
            keys: list[str] = source.execute_command(
                "CLUSTER", "GETKEYSINSLOT", move.slot, count)
            if not keys:
                break
            reply = source.execute_command(
                "MIGRATE", "127.0.0.1", move.target_port, "", 0, MIGRATE_TIMEOUT_MS,
                "KEYS", *keys)
            if reply not in ("OK", "NOKEY"):
                raise RuntimeError(f"MIGRATE of slot {move.slot} answered {reply!r}")
            moved += len(keys)
    return moved


def assign(move: SlotMove, other_primary_ports: Iterable[int]) -> None:
    """SETSLOT NODE on the target, the source, then every other primary."""
    for port in (move.target_port, move.source_port, *other_primary_ports):
        with _client(port) as node:
            node.execute_command("CLUSTER", "SETSLOT", move.slot, "NODE", move.target_id)


def clear(port: int, slots: Iterable[int]) -> None:
    """SETSLOT STABLE: forget a node's MIGRATING / IMPORTING state for ``slots``."""
    with _client(port) as node:
        for slot in slots:
            node.execute_command("CLUSTER", "SETSLOT", slot, "STABLE")
