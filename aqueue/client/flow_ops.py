"""Producer-side operations of time and flow control (pause, limits), written once for
``AsyncQueue`` and ``Queue`` (generators of Redis steps, like ``client/ops.py``)."""

from __future__ import annotations

from aqueue.client.ops import Op, QueueOps, Script
from aqueue.flow.limits import Limits, Rate, limit_fields


class FlowOps:
    def __init__(self, ops: QueueOps) -> None:
        self.block = ops.block

    def control(self, action: str, *args: object) -> Op[Limits]:
        reply = yield Script("flow_control", self.block, [action, *args])
        fields = {reply[i].decode(): reply[i + 1].decode() for i in range(0, len(reply), 2)}
        return Limits.from_fields(fields)

    def set_limits(self, rate: Rate | str | None, concurrency: int | None,
                   key_rate: Rate | str | None, key_concurrency: int | None) -> Op[Limits]:
        fields = limit_fields(rate, concurrency, key_rate, key_concurrency)
        return (yield from self.control("limits", *fields))
