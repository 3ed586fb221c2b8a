"""Chains, groups and their nesting, gather: on one Redis with real workers."""

from __future__ import annotations

import uuid

import pytest

from aqueue import (
    AsyncQueue,
    JobCanceled,
    JobFailed,
    JobStatus,
    Queue,
    chain,
    group,
    step,
)
from tests import workflow_tasks as t
from tests.conftest import WorkerFactory

pytestmark = pytest.mark.anyio
IMPORTS = ["tests.workflow_tasks"]


async def test_chain_passes_each_result_to_the_next_step(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    flow = await queue.enqueue_workflow(chain(step(t.number, 1), step(t.add, 10),
                                              step(t.add, 100)))
    assert len(flow.jobs) == 3
    async with running_worker(queue.name, imports=IMPORTS):
        assert await flow.result(timeout=5) == 111


async def test_chain_steps_run_in_their_own_queues(
        queue: AsyncQueue, other: AsyncQueue, running_worker: WorkerFactory) -> None:
    flow = await queue.enqueue_workflow(chain(step(t.number, 2), step(t.add, 3).on(other.name)))
    assert flow.jobs[1][0] == other.name
    async with running_worker([queue.name, other.name], imports=IMPORTS):
        assert await flow.result(timeout=5) == 5


async def test_a_failed_step_cancels_the_rest_of_the_chain(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    t.reset()
    flow = await queue.enqueue_workflow(chain(step(t.boom, "x"), step(t.note, "after"),
                                              step(t.note, "last")))
    async with running_worker(queue.name, imports=IMPORTS):
        with pytest.raises(JobCanceled, match="parent job"):
            await flow.result(timeout=5)
    assert "after" not in t.ran and "last" not in t.ran


async def test_group_callback_runs_once_with_every_outcome(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    flow = await queue.enqueue_workflow(group(*(step(t.number, i) for i in range(10)),
                                              then=step(t.total)))
    async with running_worker(queue.name, imports=IMPORTS):
        assert await flow.result(timeout=5) == 45
    assert (await queue.counts()).finished == 11


async def test_group_callback_receives_failures_in_order(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    flow = await queue.enqueue_workflow(group(step(t.number, 1), step(t.boom, "no"),
                                              then=step(t.describe)))
    async with running_worker(queue.name, imports=IMPORTS):
        assert await flow.result(timeout=5) == ["finished", "failed"]


async def test_group_on_failure_fail_cancels_the_callback(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    flow = await queue.enqueue_workflow(group(step(t.number, 1), step(t.boom, "no"),
                                              then=step(t.total), on_failure="fail"))
    async with running_worker(queue.name, imports=IMPORTS):
        with pytest.raises(JobCanceled):
            await flow.result(timeout=5)


async def test_group_on_failure_ignore_leaves_failed_members_out(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    flow = await queue.enqueue_workflow(group(step(t.number, 1), step(t.boom, "no"),
                                              then=step(t.describe), on_failure="ignore"))
    async with running_worker(queue.name, imports=IMPORTS):
        assert await flow.result(timeout=5) == ["finished"]


async def test_group_without_callback_results_in_a_list(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    flow = await queue.enqueue_workflow(group(step(t.number, 1), step(t.number, 2)))
    async with running_worker(queue.name, imports=IMPORTS):
        assert await flow.result(timeout=5) == [1, 2]


async def test_group_inside_a_chain_fans_out_and_joins(
        queue: AsyncQueue, other: AsyncQueue, running_worker: WorkerFactory) -> None:
    flow = await queue.enqueue_workflow(chain(
        step(t.number, 1),
        group(step(t.add, 10), step(t.add, 20).on(other.name), chain(step(t.add, 1),
                                                                     step(t.add, 1))),
        step(t.total)))
    async with running_worker([queue.name, other.name], imports=IMPORTS):
        assert await flow.result(timeout=5) == 11 + 21 + 3


async def test_canceling_a_group_cancels_its_pending_members_and_callback(
        queue: AsyncQueue) -> None:
    flow = await queue.enqueue_workflow(group(step(t.number, 1), step(t.number, 2),
                                              then=step(t.total)))
    assert await flow.cancel() == 3
    statuses = [await queue.get_status(i) for _, i in flow.jobs]
    assert statuses == [JobStatus.CANCELED] * 3


async def test_canceling_a_chain_cancels_every_step(queue: AsyncQueue) -> None:
    flow = await queue.enqueue_workflow(chain(step(t.number, 1), step(t.add, 1)))
    assert await flow.cancel() == 2
    assert (await queue.counts()).deferred == 0
    with pytest.raises(JobCanceled):
        await flow.result(timeout=1)


async def test_a_step_whose_function_takes_no_input_is_refused(queue: AsyncQueue) -> None:
    with pytest.raises(TypeError):
        await queue.enqueue_workflow(chain(step(t.number, 1), step(t.number, 2)))
    assert (await queue.counts()).enqueued == 0


def test_bad_compositions_are_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        chain()
    with pytest.raises(ValueError, match="unknown on_failure"):
        group(step(t.number, 1), on_failure="maybe")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="made of step"):
        chain(step(t.number, 1), t.number)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="dependencies from chain"):
        step(t.number, 1, depends_on="x")


async def test_gather_awaits_many_results_over_one_connection(
        queue: AsyncQueue, other: AsyncQueue, running_worker: WorkerFactory) -> None:
    jobs = [await queue.enqueue(t.number, i) for i in range(50)]
    jobs += [await other.enqueue(t.number, 100)]
    async with running_worker([queue.name, other.name], imports=IMPORTS):
        assert await queue.gather(jobs, timeout=5) == [*range(50), 100]
        assert queue.listener.connections == 1


async def test_gather_raises_the_first_failure_or_returns_it(
        queue: AsyncQueue, running_worker: WorkerFactory) -> None:
    good, bad = await queue.enqueue(t.number, 1), await queue.enqueue(t.boom, "x")
    async with running_worker(queue.name, imports=IMPORTS):
        with pytest.raises(JobFailed):
            await queue.gather([good, bad], timeout=5)
        one, failure = await queue.gather([good.id, bad.id], return_exceptions=True)
    assert one == 1 and isinstance(failure, JobFailed)


def test_sync_queue_runs_workflows_and_gathers(redis_url: str) -> None:
    import subprocess
    import sys

    name = f"q-{uuid.uuid4().hex[:8]}"
    with Queue(name, url=redis_url) as queue:
        flow = queue.enqueue_workflow(chain(step(t.number, 4), step(t.add, 1)))
        plain = queue.enqueue(t.number, 7)
        subprocess.run([sys.executable, "-m", "aqueue", "worker", name, "--url", redis_url,
                        "--import", "tests.workflow_tasks", "--burst"], check=True,
                       timeout=60, capture_output=True)
        assert flow.result(timeout=5) == 5
        assert queue.gather([plain], timeout=5) == [7]
