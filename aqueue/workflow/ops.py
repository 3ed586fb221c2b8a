"""The Redis steps of dependencies, sans-IO (``aqueue.client.ops``): enqueueing a
deferred job, and delivering outboxes. Driven by both clients and the worker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aqueue.client.ops import Call, Many, Op, Script, Sleep, Step
from aqueue.errors import NoSuchJobError
from aqueue.store.keys import QueueKeys

if TYPE_CHECKING:
    from aqueue.client.encoding import Draft
    from aqueue.client.ops import QueueOps
    from aqueue.store.store import Store

DELIVER_PAGE = 500
MAX_CASCADE = 1000  # queues visited by one delivery (a cancel that cascades far)


def outbox_key(queue: str) -> str:
    return QueueKeys.for_queue(queue).base + "outbox"


def enqueue(ops: QueueOps, drafts: Sequence[Draft]) -> Op[float]:
    """``QueueOps.enqueue`` for a batch with deferred jobs: the others in one script call,
    then each deferred job in order (so a job may depend on one before it)."""
    plain = [d for d in drafts if d.options.depends is None]
    now = 0.0
    if plain:
        now = yield from ops.enqueue(plain)
    for draft in drafts:
        if draft.options.depends is not None:
            now = yield from defer(ops, draft)
    return now


def defer(ops: QueueOps, draft: Draft) -> Op[float]:
    """Write the job as deferred, then register it with each parent (register, then check:
    a parent that has ended already answers with its end, delivered here)."""

    depends = draft.options.depends
    assert depends is not None
    refs = depends.refs(ops.name)
    if any(q == ops.name and i == draft.id for q, i, _ in refs):
        raise ValueError(f"job {draft.id} cannot depend on itself")
    explicit = draft.options.job_id is not None
    argv: list[Any] = [draft.id, "1" if explicit else "0", draft.nonce, ops.name,
                       depends.inputs, len(refs)]
    for q, i, policy in refs:
        argv += [f"{q} {i}", policy]
    pairs = draft.wire()[6:]
    argv += [len(pairs) // 2, *pairs]
    step = Script("defer", ops.block, argv)
    reply = yield from ops.write_jobs(step, [draft])
    now = float(reply[1])
    wants = "1" if depends.inputs else "0"
    by_queue: dict[str, list[str]] = {}
    for q, i, _ in refs:
        by_queue.setdefault(q, []).append(i)
    ended: list[Any] = []
    for q, ids in by_queue.items():
        answers = yield Script("depend", QueueKeys.for_queue(q).script_keys(),
                               [ops.name, draft.id, wants, *ids])
        for parent, answer in zip(ids, answers, strict=True):
            if answer is None:
                yield Script("delete", ops.block, ["ids", draft.id])
                raise NoSuchJobError(
                    f"depends_on: no job {parent} in queue {q!r} (it never existed, or it "
                    f"ended and was not kept: see result_ttl); job {draft.id} was not enqueued")
            if answer != b"pending":
                ended += [draft.id, f"{q} {parent}", answer]
    if ended:
        _, _, grew = yield Script("release", ops.block, ended)
        if grew:
            yield from deliver([ops.name])
    return now


def deliver(queues: Sequence[str]) -> Op[int]:
    """Deliver the outboxes of ``queues`` (and of the queues a delivery cancels jobs in);
    returns how many messages were delivered. A message is removed only once delivered;
    delivering one twice does nothing the second time."""
    todo = list(dict.fromkeys(queues))
    visited = 0
    total = 0
    while todo and visited < MAX_CASCADE:
        name = todo.pop(0)
        visited += 1
        delivered, grew = yield from _deliver_one(name)
        total += delivered
        todo += [q for q in grew if q not in todo]
    return total


def _deliver_one(name: str) -> Op[tuple[int, set[str]]]:
    keys = QueueKeys.for_queue(name)
    outbox = keys.base + "outbox"
    cursor: Any = 0
    total = 0
    grew: set[str] = set()
    while True:
        cursor, flat = yield Call(("HSCAN", outbox, cursor, "COUNT", DELIVER_PAGE), keys.queued)
        if flat:
            fields = flat[::2]
            by_child: dict[str, list[Any]] = {}
            for field, message in zip(fields, flat[1::2], strict=True):
                child_queue, child_id, parent_queue, parent_id = field.decode().split(" ")
                by_child.setdefault(child_queue, []).extend(
                    [child_id, f"{parent_queue} {parent_id}", message])
            for child_queue, argv in by_child.items():
                _, _, more = yield Script("release",
                                          QueueKeys.for_queue(child_queue).script_keys(), argv)
                if more:
                    grew.add(child_queue)
            yield Call(("HDEL", outbox, *fields), keys.queued)
            total += len(fields)
        if int(cursor) == 0:
            return total, grew


def deliver_if_any(queue: str) -> Op[int]:
    """Deliver the queue's outbox if it has messages (after a cancel or delete)."""
    if not (yield Call(("EXISTS", outbox_key(queue)), outbox_key(queue))):
        return 0
    return (yield from deliver([queue]))


async def drive(store: Store, op: Op[Any]) -> Any:
    """Run an operation's steps on ``store`` (for the worker: the clients have their own)."""
    import asyncio

    from redis.exceptions import RedisError

    try:
        step: Step = next(op)
        while True:
            try:
                reply = await _execute(store, step, asyncio.sleep)
            except (RedisError, OSError) as exc:
                step = op.throw(exc)
            else:
                step = op.send(reply)
    except StopIteration as stop:
        return stop.value


async def _execute(store: Store, step: Step, sleep: Any) -> Any:
    if isinstance(step, Script):
        return await store.script(step.name, step.keys, step.args, before=step.before)
    if isinstance(step, Call):
        return await store.call(*step.command, key=step.key)
    if isinstance(step, Many):
        return await store.call_many(step.commands, key=step.key)
    assert isinstance(step, Sleep)
    await sleep(step.seconds)
    return None
