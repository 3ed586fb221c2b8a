"""Operating a queue beyond enqueueing and inspecting (``AsyncQueue`` has these from
here): search and its index, history, running jobs, pause and limits, schedules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from aqueue.client.flow_ops import FlowOps
from aqueue.client.history import HistorySample
from aqueue.client.ops import Op, QueueOps
from aqueue.client.ops_inspect import RunningJob
from aqueue.client.search import IndexInfo, SearchQuery, SearchResult
from aqueue.cron.definition import CronJob
from aqueue.cron.info import ScheduleInfo
from aqueue.cron.ops import CronOps
from aqueue.flow.limits import Limits, Rate
from aqueue.job import Job
from aqueue.serializers import Serializer

T = TypeVar("T")


class AsyncOperate:
    """Mixed into the queue class: every method runs one operation through ``_run``."""

    if TYPE_CHECKING:
        ops: QueueOps
        serializer: Serializer

        async def _run(self, op: Op[T], action: str, *, write: bool = False) -> T: ...
        async def fetch_job(self, job_id: str) -> Job[Any]: ...
        def _record_job(self, record: dict[str, Any]) -> Job[Any]: ...

    # -- dashboard: search and its index, history, running jobs ------------------------

    async def search(self, query: SearchQuery | str, cursor: str | None = None,
                     limit: int = 50, budget: int | None = None) -> SearchResult[Job[Any]]:
        """Jobs matching ``query`` (``SearchQuery`` or its text: ``func:NAME user=42
        status:failed``), a page at a time: pass ``result.cursor`` for the next page. Uses
        the queue's search index if it has one, else walks at most ``budget`` jobs."""
        q = SearchQuery.parse(query) if isinstance(query, str) else query
        page = await self._run(self.ops.search(q, cursor, limit, budget), "search")
        return SearchResult.of(page, [self._record_job(r) for r in page.records])

    async def search_index(self) -> IndexInfo:
        """Whether this queue has a search index, what it indexes and its size."""
        return await self._run(self.ops.search_index(), "read the search index of")

    async def enable_search_index(self, fields: Sequence[str] | None = None, *,
                                  backfill: bool = True) -> int:
        """Index every job enqueued from now on by function and top-level argument values
        (``fields``: only these argument names or positions); ``backfill`` indexes the jobs
        already there. Returns how many were backfilled. Costs every enqueue: see
        docs/dashboard.md."""
        return await self._run(self.ops.enable_search_index(fields, backfill),
                               "enable the search index of")

    async def drop_search_index(self) -> None:
        """Stop indexing and delete the index (searches go back to bounded scans)."""
        await self._run(self.ops.drop_search_index(), "drop the search index of")

    async def history(self, resolution: str = "minute", limit: int = 60
                      ) -> list[HistorySample]:
        """The counters sampled by the workers' history plugin, oldest first."""
        return await self._run(self.ops.history(resolution, limit), "read the history of")

    async def running(self, start: int = 0, stop: int = -1) -> list[RunningJob]:
        """Started jobs with elapsed time and lease left, soonest lease expiry first."""
        return await self._run(self.ops.running(start, stop), "list running jobs of")

    async def fetch_jobs(self, *job_ids: str) -> list[Job[Any]]:
        """The jobs that exist among ``job_ids``, in one round trip."""
        records = await self._run(self.ops.records(job_ids), "fetch jobs of")
        return [self._record_job(r) for r in records]

    # -- time and flow control (aqueue.flow, aqueue.cron; docs/limits.md, docs/cron.md) ----

    async def pause(self) -> Limits:
        """Stop every worker from starting this queue's jobs (within a claim); running
        jobs finish, new ones are kept."""
        return await self._run(FlowOps(self.ops).control("pause"), "pause")

    async def resume(self) -> Limits:
        """Let workers start this queue's jobs again; idle workers wake at once."""
        return await self._run(FlowOps(self.ops).control("resume"), "resume")

    async def is_paused(self) -> bool:
        return (await self.limits()).paused

    async def limits(self) -> Limits:
        """The queue's pause flag, rates and concurrency caps."""
        return await self._run(FlowOps(self.ops).control("get"), "limits of")

    async def set_limits(self, *, rate: Rate | str | None = None,
                         concurrency: int | None = None, key_rate: Rate | str | None = None,
                         key_concurrency: int | None = None) -> Limits:
        """Replace the queue's limits, for all its workers: at most ``rate`` job starts
        (``Rate(10, per=1)`` or ``"10/s"``) and ``concurrency`` running jobs in the whole
        queue, and as much per ``limit_key`` with ``key_rate`` and ``key_concurrency``.
        None removes a limit."""
        return await self._run(FlowOps(self.ops).set_limits(
            rate, concurrency, key_rate, key_concurrency), "set_limits on")

    async def add_schedule(self, schedule: CronJob) -> str:
        """Store a schedule in this queue for the workers to run ("new", "changed" or
        "same"); schedules given to ``Worker(cron=...)`` are stored this way too."""
        return await self._run(CronOps(self.ops).add(schedule, self.serializer),
                               "add_schedule to", write=True)

    async def schedules(self) -> list[ScheduleInfo]:
        """This queue's schedules, with their last and next runs."""
        return await self._run(CronOps(self.ops).list(), "schedules of")

    async def get_schedule(self, name: str) -> ScheduleInfo:
        return await self._run(CronOps(self.ops).get(name), "get_schedule on")

    async def pause_schedule(self, name: str) -> None:
        await self._run(CronOps(self.ops).control("pause", name), "pause_schedule on")

    async def resume_schedule(self, name: str) -> None:
        """Resume a paused schedule; ticks that passed while it was paused are skipped."""
        await self._run(CronOps(self.ops).control("resume", name), "resume_schedule on")

    async def remove_schedule(self, name: str) -> None:
        await self._run(CronOps(self.ops).control("remove", name), "remove_schedule on")

    async def trigger_schedule(self, name: str) -> Job[Any]:
        """Enqueue a run of the schedule now (its ticks are unchanged)."""
        job_id = await self._run(CronOps(self.ops).trigger(name), "trigger_schedule on",
                                 write=True)
        return await self.fetch_job(job_id)
