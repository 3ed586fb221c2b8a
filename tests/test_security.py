"""A worker runs only functions defined in the modules its operator named."""

from __future__ import annotations

import sys

import pytest

from aqueue import AsyncQueue, FunctionNotAllowed, JobFailed
from aqueue.functions import FunctionRegistry
from tests.conftest import WorkerFactory

pytestmark = pytest.mark.anyio


async def failure_of(queue: AsyncQueue, running_worker: WorkerFactory, func: str) -> JobFailed:
    job = await queue.enqueue(func)
    async with running_worker(queue.name):
        with pytest.raises(JobFailed) as failure:
            await job.result(timeout=5)
    return failure.value


async def test_a_job_naming_os_system_is_refused(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    failure = await failure_of(queue, running_worker, "os.system")
    assert failure.exc_type == "FunctionNotAllowed"
    assert "'os.system' is not in a module this worker was told to import" in failure.exc_message


async def test_a_function_imported_into_an_allowed_module_is_refused(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    failure = await failure_of(queue, running_worker, "tests.tasks.defined_elsewhere")
    assert "not a function defined in tests.tasks" in failure.exc_message


async def test_a_module_attribute_of_an_allowed_module_is_refused(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    failure = await failure_of(queue, running_worker, "tests.tasks.os.system")
    assert failure.exc_type == "FunctionNotAllowed"


async def test_dunder_attributes_are_never_resolved(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    failure = await failure_of(queue, running_worker, "tests.tasks.__builtins__.eval")
    assert "dunder" in failure.exc_message


async def test_a_job_never_imports_a_module(
    queue: AsyncQueue, running_worker: WorkerFactory
) -> None:
    sys.modules.pop("tests.never_imported", None)
    failure = await failure_of(queue, running_worker, "tests.never_imported.run")
    assert failure.exc_type == "FunctionNotAllowed"
    assert "tests.never_imported" not in sys.modules


def test_submodules_of_an_allowed_module_are_not_allowed() -> None:
    registry = FunctionRegistry(["tests"])
    with pytest.raises(FunctionNotAllowed):
        registry.resolve("tests.tasks.add")


def test_explicitly_listed_functions_are_allowed() -> None:
    from tests.elsewhere import defined_elsewhere

    registry = FunctionRegistry(functions=[defined_elsewhere])
    assert registry.resolve("tests.elsewhere.defined_elsewhere").call is defined_elsewhere
