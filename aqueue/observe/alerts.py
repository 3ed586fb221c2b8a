"""The alert engine: evaluates rules every ``interval`` seconds and posts an alert when
one starts firing or is resolved, not on every evaluation. See docs/alerts.md.

Any number of engines (``aqueue alerts`` processes, dashboards) may run side by side on
the same Redis without posting twice. Time is cut into rounds of ``interval`` seconds by
Redis's clock, and for each alert and round a guard key (``SET NX``) lets exactly one
engine evaluate it. The alert's state (firing or not) and the readings a failure rate
needs are kept in Redis, so whichever engine evaluates next continues from them. A post
that fails leaves the state as it was: the next round posts again.

An engine also holds a lock on each alert while it evaluates and posts it, so that a
slow post cannot overlap the next round's evaluation by another engine.

Keys, in the control slot: ``aq:{aq}:alert:<rule>:<queue>`` (hash: state, since,
summary), ``...:history`` (list of readings), ``...:round:<n>`` (the guard), ``...:lock``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from redis.exceptions import RedisError

from aqueue.client.admin import AsyncAdmin
from aqueue.errors import AqueueError
from aqueue.observe.alert_rules import EVERY_QUEUE, QueueView, Rule
from aqueue.observe.sampling import sample_queues, workers_by_queue
from aqueue.store import keys

logger = logging.getLogger("aqueue.alerts")

DEFAULT_INTERVAL = 30.0
LOCK_SECONDS = 30.0  # how long a dead engine can hold an alert (more than a post takes)
_RELEASE = ("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) "
            "end return 0")


@dataclass(frozen=True, slots=True)
class Alert:
    """One transition of one rule on one queue."""

    rule: str
    kind: str
    queue: str
    state: str  # "firing" or "resolved"
    value: float
    summary: str
    at: float  # Unix time, by Redis's clock

    @property
    def text(self) -> str:
        return f"[{self.state.upper()}] {self.rule} on queue {self.queue}: {self.summary}"

    def payload(self) -> dict[str, Any]:
        """The JSON posted: ``text`` for chat webhooks, the fields for everyone else."""
        return {"text": self.text, "alert": f"{self.rule}:{self.queue}", **asdict(self)}


class Notifier(Protocol):
    async def send(self, payload: dict[str, Any]) -> None:
        """Deliver one alert; raise if it could not be delivered."""
        ...

    def describe(self) -> str: ...


class AlertEngine:
    """Evaluates ``rules`` over the queues ``admin`` sees and tells ``notifier``."""

    def __init__(self, admin: AsyncAdmin, rules: Sequence[Rule], notifier: Notifier, *,
                 interval: float = DEFAULT_INTERVAL) -> None:
        if not interval > 0:
            raise ValueError(f"interval must be positive, got {interval}")
        if not rules:
            raise ValueError("no alert rules")
        self.admin = admin
        self.rules = list(rules)
        self.notifier = notifier
        self.interval = interval
        self.owner = f"{socket.gethostname()}.{os.getpid()}"
        self._clock_offset = 0.0  # Redis's clock minus ours

    async def run(self) -> None:
        """Evaluate every round until cancelled; Redis errors are logged and waited out."""
        failing = False
        while True:
            try:
                await self.evaluate()
                failing = False
            except (AqueueError, RedisError, OSError) as exc:
                if not failing:
                    logger.warning("alerts: cannot evaluate the rules: %s", exc)
                failing = True
            now = time.time() + self._clock_offset
            await asyncio.sleep(self.interval - now % self.interval + 0.01)

    async def evaluate(self) -> list[Alert]:
        """One round: the alerts whose turn it is and whose state changed are posted (and
        returned)."""
        now = await self._redis_time()
        instances = await self._instances()
        token = f"{self.owner}.{uuid.uuid4().hex[:8]}"
        won = await self._claim_round(instances, int(now // self.interval), token)
        if not won:
            return []
        try:
            return await self._evaluate(won, now)
        finally:
            await self._release(won, token)

    async def _evaluate(self, won: list[tuple[Rule, str]], now: float) -> list[Alert]:
        queues = sorted({queue for _, queue in won})
        samples, workers = await asyncio.gather(sample_queues(self.admin, queues),
                                                self.admin.workers())
        by_name = {s.name: s for s in samples}
        serving = workers_by_queue(workers)
        stored = await self._read_state(won)
        posted: list[Alert] = []
        for (rule, queue), (firing_before, history) in zip(won, stored, strict=True):
            sample = by_name[queue]
            finding = rule.check(QueueView(sample, serving.get(queue, 0), now, history))
            if rule.wants_history(self.interval):
                await self._remember(rule, queue, now, sample.totals.finished,
                                     sample.totals.failed)
            if finding is None or finding.firing == firing_before:
                continue
            alert = Alert(rule.name, rule.kind, queue, "firing" if finding.firing else "resolved",
                          finding.value, finding.summary, now)
            if await self._post(alert):
                await self._write_state(alert)
                posted.append(alert)
        return posted

    async def states(self) -> dict[str, str]:
        """``{"<rule>:<queue>": "firing" | "ok"}`` for every alert of the rules' queues."""
        instances = await self._instances()
        stored = await self._read_state(instances)
        return {f"{rule.name}:{queue}": "firing" if firing else "ok"
                for (rule, queue), (firing, _) in zip(instances, stored, strict=True)}

    # -- Redis ---------------------------------------------------------------------------

    async def _redis_time(self) -> float:
        seconds, micros = await self.admin.store.call("TIME", key=keys.WORKERS)
        now = int(seconds) + int(micros) / 1e6
        self._clock_offset = now - time.time()
        return now

    async def _instances(self) -> list[tuple[Rule, str]]:
        found: list[str] | None = None
        instances: list[tuple[Rule, str]] = []
        for rule in self.rules:
            names = list(rule.queues)
            if EVERY_QUEUE in names:
                if found is None:
                    found = await self.admin.queues()
                names = [*found, *(q for q in names if q != EVERY_QUEUE and q not in found)]
            instances += [(rule, queue) for queue in dict.fromkeys(names)]
        return instances

    async def _claim_round(self, instances: list[tuple[Rule, str]], round_number: int,
                           token: str) -> list[tuple[Rule, str]]:
        """The alerts this engine evaluates this round: those whose round guard it set
        first, and whose lock no other engine holds (an evaluation of the previous round
        still posting), so that two engines never handle one alert at once."""
        if not instances:
            return []
        guard_ttl = max(1000, int(self.interval * 2000))
        lock_ttl = int(max(2 * self.interval, LOCK_SECONDS) * 1000)
        commands: list[tuple[Any, ...]] = []
        for rule, queue in instances:
            commands.append(("SET", f"{_key(rule, queue)}:round:{round_number}", token, "NX",
                             "PX", guard_ttl))
            commands.append(("SET", f"{_key(rule, queue)}:lock", token, "NX", "PX", lock_ttl))
        replies = await self.admin.store.call_many(commands, key=keys.WORKERS)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        won, locked_only = [], []
        for instance, guard, lock in zip(instances, replies[::2], replies[1::2], strict=True):
            if guard is not None and lock is not None:
                won.append(instance)
            elif lock is not None:
                locked_only.append(instance)
        await self._release(locked_only, token)
        return won

    async def _release(self, instances: list[tuple[Rule, str]], token: str) -> None:
        if instances:
            await self.admin.store.call_many(
                [("EVAL", _RELEASE, 1, f"{_key(rule, queue)}:lock", token)
                 for rule, queue in instances], key=keys.WORKERS)

    async def _read_state(self, instances: list[tuple[Rule, str]]
                          ) -> list[tuple[bool, list[tuple[float, int, int]]]]:
        commands: list[tuple[Any, ...]] = []
        for rule, queue in instances:
            commands.append(("HGET", _key(rule, queue), "state"))
            commands.append(("LRANGE", f"{_key(rule, queue)}:history", 0, -1))
        replies = await self.admin.store.call_many(commands, key=keys.WORKERS) if commands else []
        states = []
        for state, history in zip(replies[::2], replies[1::2], strict=True):
            for reply in (state, history):
                if isinstance(reply, Exception):
                    raise reply
            readings = [tuple(float(x) for x in entry.split()) for entry in history]
            states.append((state == b"firing", [(t, int(fin), int(fail))
                                                for t, fin, fail in readings]))
        return states

    async def _remember(self, rule: Rule, queue: str, now: float, finished: int,
                        failed: int) -> None:
        history = f"{_key(rule, queue)}:history"
        await self.admin.store.call_many([
            ("LPUSH", history, f"{now:.3f} {finished} {failed}"),
            ("LTRIM", history, 0, rule.wants_history(self.interval) - 1)], key=keys.WORKERS)

    async def _write_state(self, alert: Alert) -> None:
        key = f"{keys.CONTROL}:alert:{alert.rule}:{alert.queue}"
        if alert.state == "firing":
            await self.admin.store.call("HSET", key, "state", "firing", "since", alert.at,
                                        "summary", alert.summary, key=keys.WORKERS)
        else:
            await self.admin.store.call("DEL", key, key=keys.WORKERS)

    async def _post(self, alert: Alert) -> bool:
        try:
            await self.notifier.send(alert.payload())
        except Exception as exc:
            logger.warning("alerts: could not post %s %s:%s to %s (%s); the next round "
                           "tries again", alert.state, alert.rule, alert.queue,
                           self.notifier.describe(), exc)
            return False
        logger.info("alerts: posted %s", alert.text)
        return True


def _key(rule: Rule, queue: str) -> str:
    return f"{keys.CONTROL}:alert:{rule.name}:{queue}"
