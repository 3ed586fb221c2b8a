"""Claiming jobs, and waiting for work when there is none.

A claim takes up to the worker's free slots with one script call per queue group, in
priority order (one group on a single server; on a cluster, one per queue). With nothing
to claim the fetcher blocks on the groups' markers (BZPOPMIN, a connection per group, no
polling). A wait that is still blocked when work turns up elsewhere is left running, not
cancelled: cancelling it could swallow a marker that another worker should have seen.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from aqueue.store.errors import TRANSIENT_ERRORS
from aqueue.store.store import Dedicated, Store
from aqueue.worker.executor import Claimed
from aqueue.worker.groups import QueueGroup

IDLE_BLOCK = 5.0
BURST_HORIZON = 5.0  # burst mode waits for scheduled jobs due within this many seconds


class Fetcher:
    def __init__(self, store: Store, groups: Sequence[QueueGroup], *, lease: float,
                 worker_name: str, idle_block: float = IDLE_BLOCK) -> None:
        self.store = store
        self.groups = list(groups)
        self.lease = lease
        self.idle_block = idle_block
        self.claiming = False
        self._prefix = f"{worker_name}.{uuid.uuid4().hex[:8]}"
        self._claims = 0
        self._connections: dict[QueueGroup, Dedicated] = {
            g: store.dedicated(g.route, name=f"{worker_name}:fetch") for g in self.groups}
        self._waits: dict[QueueGroup, asyncio.Task[None]] = {}

    async def claim(self, count: int) -> list[Claimed]:
        """Claim up to ``count`` jobs, higher-priority groups first."""
        claimed: list[Claimed] = []
        self.claiming = True
        try:
            for group in self.groups:
                if len(claimed) >= count:
                    break
                try:
                    claimed += await self._claim_group(group, count - len(claimed))
                except TRANSIENT_ERRORS:
                    if not claimed:
                        raise
                    break  # run what was claimed; the error shows again on the next claim
        finally:
            self.claiming = False
        return claimed

    async def _claim_group(self, group: QueueGroup, count: int) -> list[Claimed]:
        self._claims += 1
        _, rows = await self.store.script(
            "claim", group.keys, [count, self.lease, f"{self._prefix}.{self._claims}"])
        return [Claimed(group, position, group.queues[position].name, raw_id.decode(),
                        token.decode(), dict(zip(fields[::2], fields[1::2], strict=True)))
                for position, raw_id, token, fields in rows]

    async def wait_for_work(self) -> None:
        """Until a group's marker says it has jobs, or ``idle_block`` seconds pass."""
        for group in self.groups:
            if group not in self._waits or self._waits[group].done():
                self._waits[group] = asyncio.create_task(self._wait(group))
        done, _ = await asyncio.wait(self._waits.values(), timeout=self.idle_block + 1,
                                     return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # a Redis error: let the caller back off

    async def _wait(self, group: QueueGroup) -> None:
        await self._connections[group].call("BZPOPMIN", *group.markers, self.idle_block,
                                            timeout=self.idle_block)

    async def idle(self) -> bool:
        """Burst mode: nothing queued or running, nothing due within ``BURST_HORIZON`` s."""
        for group in self.groups:
            if not await self.store.script("idle", group.keys, [BURST_HORIZON]):
                return False
        return True

    def close(self) -> None:
        for task in self._waits.values():
            task.cancel()
        for connection in self._connections.values():
            connection.close()
