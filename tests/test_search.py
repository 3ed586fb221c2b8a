"""Searching a queue by id, function, status and argument values: without the index (a
bounded walk of the registries) and with it (the opt-in index the enqueue script keeps),
which must find the same jobs."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from aqueue import AsyncQueue, Job, Queue
from aqueue.client.search import SearchQuery
from tests import tasks
from tests.conftest import BurstRunner

pytestmark = pytest.mark.anyio


async def ids_of(queue: AsyncQueue, query: str, *, limit: int = 50,
                 budget: int | None = None) -> list[str]:
    """Every match, page after page."""
    found: list[str] = []
    cursor = None
    while True:
        page = await queue.search(query, cursor, limit=limit, budget=budget)
        found += [j.id for j in page.jobs]
        cursor = page.cursor
        if cursor is None:
            return found


async def some_jobs(queue: AsyncQueue) -> dict[str, Job[object]]:
    return {
        "alice": await queue.enqueue(tasks.echo, "alice", plan="pro", seats=3),
        "bob": await queue.enqueue(tasks.echo, "bob", plan="free", seats=1),
        "carol": await queue.enqueue(tasks.echo, "carol", plan="pro", seats=3, vip=True),
        "sum": await queue.enqueue(tasks.add, 3, 4),
    }


@pytest.mark.parametrize("indexed", [False, True], ids=["scan", "index"])
@pytest.mark.parametrize(("query", "expected"), [
    ("func:tests.tasks.add", ["sum"]),
    ("plan=pro", ["alice", "carol"]),
    ("plan=pro seats=3 vip=true", ["carol"]),
    ("0=bob", ["bob"]),
    ("3", ["alice", "carol", "sum"]),
    ("func:tests.tasks.echo free", ["bob"]),
    ("plan=gold", []),
])
async def test_search_finds_jobs_by_function_and_argument_values(
    queue: AsyncQueue, indexed: bool, query: str, expected: list[str]
) -> None:
    if indexed:
        await queue.enable_search_index()
    jobs = await some_jobs(queue)
    page = await queue.search(query)
    assert page.indexed is indexed
    assert sorted(j.id for j in page.jobs) == sorted(jobs[name].id for name in expected)


@pytest.mark.parametrize("indexed", [False, True], ids=["scan", "index"])
async def test_search_filters_by_status(queue: AsyncQueue, run_burst: BurstRunner,
                                        indexed: bool) -> None:
    if indexed:
        await queue.enable_search_index()
    failing = await queue.enqueue(tasks.fail, message="c1")
    passing = await queue.enqueue(tasks.echo, message="c1")
    await run_burst(queue.name)
    waiting = await queue.enqueue(tasks.echo, message="c1")
    assert [j.id for j in (await queue.search("message=c1 status:failed")).jobs] == [failing.id]
    assert [j.id for j in (await queue.search("message=c1 status:queued")).jobs] == [waiting.id]
    finished = await queue.search(SearchQuery(status="finished", args=(("message", "c1"),)))
    assert [j.id for j in finished.jobs] == [passing.id]


@pytest.mark.parametrize("indexed", [False, True], ids=["scan", "index"])
async def test_search_finds_deferred_jobs_by_status_and_argument(queue: AsyncQueue,
                                                                 indexed: bool) -> None:
    """A job waiting for its parents (depends_on) is found like any other."""
    if indexed:
        await queue.enable_search_index()
    parent = await queue.enqueue(tasks.echo, message="p1")
    child = await queue.enqueue(tasks.echo, message="d1", depends_on=parent)
    assert [j.id for j in (await queue.search("status:deferred")).jobs] == [child.id]
    assert [j.id for j in (await queue.search("message=d1")).jobs] == [child.id]
    assert [j.id for j in (await queue.search("message=d1 status:queued")).jobs] == []


async def test_a_job_id_finds_that_job(queue: AsyncQueue) -> None:
    job = await queue.enqueue(tasks.add, 1, 2)
    page = await queue.search(job.id)
    assert [j.id for j in page.jobs] == [job.id]
    assert page.cursor is None


@pytest.mark.parametrize("indexed", [False, True], ids=["scan", "index"])
async def test_pages_cover_every_match_once_even_within_one_batch(
    queue: AsyncQueue, indexed: bool
) -> None:
    """Jobs of one enqueue_many share an enqueue time: the cursor must not skip any."""
    if indexed:
        await queue.enable_search_index()
    jobs = await queue.enqueue_many(
        [queue.prepare(tasks.echo, tenant="t1" if i % 3 else "t2") for i in range(300)])
    expected = sorted(j.id for i, j in enumerate(jobs) if i % 3)
    assert sorted(await ids_of(queue, "tenant=t1", limit=7, budget=40)) == expected


async def test_a_scan_is_bounded_by_its_budget_and_goes_on_with_the_cursor(
    queue: AsyncQueue
) -> None:
    await queue.enqueue_many([queue.prepare(tasks.add, i, 0) for i in range(120)])
    page = await queue.search("func:tests.tasks.add", limit=500, budget=50)
    assert (len(page.jobs), page.looked_at, page.size) == (50, 50, 120)
    assert page.cursor is not None
    assert len(await ids_of(queue, "func:tests.tasks.add", limit=500, budget=50)) == 120


async def test_the_index_walks_the_smallest_set(queue: AsyncQueue) -> None:
    await queue.enable_search_index()
    await queue.enqueue_many([queue.prepare(tasks.echo, kind="common") for _ in range(200)])
    rare = await queue.enqueue(tasks.echo, kind="common", user="u-rare")
    page = await queue.search("kind=common user=u-rare")
    assert [j.id for j in page.jobs] == [rare.id]
    assert page.looked_at == 1 and page.size == 1


async def test_index_is_written_only_for_queues_that_turned_it_on(
    queue: AsyncQueue, redis: Redis
) -> None:
    await queue.enqueue(tasks.echo, user="u1")
    assert await redis.keys(f"aq:{{{queue.name}}}:ix:*") == []
    await queue.enable_search_index(backfill=False)
    await queue.enqueue(tasks.echo, user="u2")
    found = await redis.keys(f"aq:{{{queue.name}}}:ix:*")
    index_keys = {str(k, "utf-8").split(":ix:")[1] for k in found}  # type: ignore[arg-type]
    assert index_keys == {"config", "terms", "f:tests.tasks.echo", "a:user=u2", "v:u2"}


async def test_enabling_the_index_backfills_the_jobs_already_there(queue: AsyncQueue) -> None:
    old = await queue.enqueue(tasks.echo, user="u1")
    assert await queue.enable_search_index() == 1
    page = await queue.search("user=u1")
    assert page.indexed and [j.id for j in page.jobs] == [old.id]


async def test_only_the_named_fields_are_indexed(queue: AsyncQueue) -> None:
    await queue.enable_search_index(["user"])
    job = await queue.enqueue(tasks.echo, user="u1", note="hello")
    assert [j.id for j in (await queue.search("user=u1")).jobs] == [job.id]
    assert (await queue.search("note=hello")).jobs == []
    assert (await queue.search_index()).fields == ("user",)


async def test_a_gone_job_leaves_the_index_when_searched_or_pruned(
    queue: AsyncQueue, redis: Redis
) -> None:
    await queue.enable_search_index()
    kept = await queue.enqueue(tasks.echo, user="u1")
    gone = await queue.enqueue(tasks.echo, user="u1")
    await redis.delete(f"aq:{{{queue.name}}}:job:{gone.id}")  # as if it expired
    assert [j.id for j in (await queue.search("user=u1")).jobs] == [kept.id]
    assert not await redis.hexists(f"aq:{{{queue.name}}}:ix:terms", gone.id)
    assert await redis.zrange(f"aq:{{{queue.name}}}:ix:v:u1", 0, -1) == [kept.id.encode()]
    await queue.delete(kept.id)
    pruned, looked, wrapped = await queue.store.script(
        "index_prune", queue.keys.script_keys(), [1000])
    assert (pruned, looked, wrapped) == (1, 1, 1)
    assert (await queue.search_index()).jobs == 0


async def test_replacing_a_job_by_id_forgets_its_old_arguments(
    queue: AsyncQueue, run_burst: BurstRunner
) -> None:
    await queue.enable_search_index()
    await queue.enqueue(tasks.echo, user="old", job_id="report-1")
    await run_burst(queue.name)
    await queue.enqueue(tasks.echo, user="new", job_id="report-1")
    assert (await queue.search("user=old")).jobs == []
    assert [j.id for j in (await queue.search("user=new")).jobs] == ["report-1"]


async def test_dropping_the_index_deletes_it_and_searches_scan_again(
    queue: AsyncQueue, redis: Redis
) -> None:
    await queue.enable_search_index()
    job = await queue.enqueue(tasks.echo, user="u1")
    await queue.drop_search_index()
    assert await redis.keys(f"aq:{{{queue.name}}}:ix:*") == []
    page = await queue.search("user=u1")
    assert not page.indexed and [j.id for j in page.jobs] == [job.id]


def test_the_sync_queue_searches_too(redis_url: str) -> None:
    with Queue("sync-search", url=redis_url) as queue:
        queue.enable_search_index()
        job = queue.enqueue(tasks.echo, order=17)
        assert [j.id for j in queue.search("order=17").jobs] == [job.id]
        assert queue.search_index().jobs == 1


@pytest.mark.parametrize(("text", "message"), [
    ("status:sleeping", "unknown status 'sleeping'"),
    ('user="unclosed', "cannot read the search"),
    ("func:", "func: needs a value"),
    ("a-b=1", "invalid argument name 'a-b'"),
])
def test_a_bad_search_is_an_error_naming_the_problem(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SearchQuery.parse(text)


def test_a_query_reads_back_as_text() -> None:
    query = SearchQuery.parse('func:send status:failed user=42 "two words"')
    assert str(query) == "func:send status:failed user=42 'two words'"
    assert SearchQuery.parse(str(query)) == query
