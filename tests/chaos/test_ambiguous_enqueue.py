"""Enqueues through a connection that drops at random: a job whose enqueue returned runs
exactly once; one whose enqueue raised ConnectionFailed was not enqueued; one whose
outcome could not be learnt raises EnqueueUncertain, and fetch_job tells which it was.
Never "raised" and "ran" silently.

The proxy drops a connection either before forwarding a command (Redis never saw it) or
after Redis answered it (Redis ran it; the producer never hears). Workers talk to Redis
directly, so only the producer's enqueues are disrupted.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from aqueue import AsyncQueue, ConnectionFailed, NoSuchJobError
from aqueue.errors import EnqueueUncertain
from tests.chaos import jobs
from tests.chaos.harness import Chaos
from tests.servers.fixtures import ProxyFactory

pytestmark = pytest.mark.anyio


@pytest.mark.timeout(120)
# (drop before forwarding, drop after Redis answered, jobs): light faults over many jobs,
# and faults heavy enough that some enqueues fail each way (an uncertain one waits ~1.8 s
# for its resends, so fewer jobs).
@pytest.mark.parametrize("faults", [(0.05, 0.05, 300), (0.4, 0.3, 40)],
                         ids=["light-faults", "heavy-faults"])
@pytest.mark.parametrize("explicit_ids", [False, True], ids=["random-ids", "explicit-ids"])
async def test_an_enqueue_that_raised_never_runs_and_one_that_returned_runs_once(
    tmp_path: Path, faulty_proxy: ProxyFactory, explicit_ids: bool,
    faults: tuple[float, float, int],
) -> None:
    before, after, count = faults
    seed = random.randrange(2**32)
    with Chaos(tmp_path) as chaos:
        proxy = faulty_proxy(chaos.server.port, seed=seed)
        await chaos.spawn_ready(concurrency=50)
        outcome: dict[str, str] = {}
        ids: dict[str, str] = {}
        async with AsyncQueue(chaos.queue_name, url=proxy.url) as queue:
            await queue.ping()  # connect (and register the queue) before the faults
            proxy.drop(before=before, after=after)
            for i in range(count):
                tag = f"job-{i}"
                options = {"job_id": tag} if explicit_ids else {}
                draft = queue.prepare(jobs.work, tag, 1, i, **options)
                ids[tag] = draft.id
                try:
                    await queue.enqueue_many([draft])
                    outcome[tag] = "returned"
                except EnqueueUncertain:
                    outcome[tag] = "uncertain"
                except ConnectionFailed:
                    outcome[tag] = "raised"
            proxy.pass_through()
            dropped = (proxy.dropped_before, proxy.dropped_after)

            async def exists(tag: str) -> bool:
                try:
                    await queue.fetch_job(ids[tag])
                    return True
                except NoSuchJobError:
                    return False

            enqueued = {tag for tag in outcome if outcome[tag] == "returned"}
            enqueued |= {tag for tag in outcome if outcome[tag] == "uncertain"
                         and await exists(tag)}
            await chaos.settle(lambda: chaos.finished_count() >= len(enqueued), 60)
            runs = chaos.runs(outcome)
        tally = {kind: sum(1 for o in outcome.values() if o == kind)
                 for kind in ("returned", "raised", "uncertain")}
        note = (f"seed {seed}: {tally}, proxy dropped {dropped[0]} before / {dropped[1]} "
                "after forwarding")
        print(note)
        assert dropped[1] > 0, f"no ambiguous drop happened: {note}"
        if before >= 0.4:  # so many drops that some enqueues must fail each way
            assert tally["raised"] > 0 and tally["uncertain"] > 0, note
        for tag, kind in outcome.items():
            ran = len(runs[tag])
            if kind == "returned":
                assert ran == 1, f"{tag} returned but ran {ran} times; {note}"
            elif kind == "raised":
                assert ran == 0, f"{tag} raised ConnectionFailed but ran {ran} times; {note}"
            else:
                assert ran == (1 if tag in enqueued else 0), (
                    f"{tag} was uncertain, fetch_job says {tag in enqueued}, ran {ran}; {note}")
