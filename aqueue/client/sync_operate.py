"""Operating a queue beyond enqueueing and inspecting (the sync ``Queue`` has these from
here): pause and limits, schedules, search and its index, history, running jobs."""

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
from aqueue.job import SyncJob
from aqueue.serializers import Serializer

T = TypeVar("T")


class SyncOperate:
    """Mixed into the queue class: every method runs one operation through ``_run``."""

    if TYPE_CHECKING:
        ops: QueueOps
        serializer: Serializer

        def _run(self, op: Op[T], action: str, *, write: bool = False) -> T: ...
        def fetch_job(self, job_id: str) -> SyncJob[Any]: ...
        def _record_job(self, record: dict[str, Any]) -> SyncJob[Any]: ...

    # -- time and flow control (aqueue.flow, aqueue.cron; docs/limits.md, docs/cron.md) ----

    def pause(self) -> Limits:
        """Stop every worker from starting this queue's jobs (within a claim); running
        jobs finish, new ones are kept."""
        return self._run(FlowOps(self.ops).control("pause"), "pause")

    def resume(self) -> Limits:
        """Let workers start this queue's jobs again; idle workers wake at once (see AsyncQueue)."""
        return self._run(FlowOps(self.ops).control("resume"), "resume")

    def is_paused(self) -> bool:
        return (self.limits()).paused

    def limits(self) -> Limits:
        """The queue's pause flag, rates and concurrency caps."""
        return self._run(FlowOps(self.ops).control("get"), "limits of")

    def set_limits(self, *, rate: Rate | str | None = None,
                         concurrency: int | None = None, key_rate: Rate | str | None = None,
                         key_concurrency: int | None = None) -> Limits:
        """Replace the queue's limits, for all its workers: at most ``rate`` job starts
        (``Rate(10, per=1)`` or ``"10/s"``) and ``concurrency`` running jobs in the whole
        queue, and as much per ``limit_key`` with ``key_rate`` and ``key_concurrency``.
        None removes a limit."""
        return self._run(FlowOps(self.ops).set_limits(
            rate, concurrency, key_rate, key_concurrency), "set_limits on")

    def add_schedule(self, schedule: CronJob) -> str:
        """Store a schedule in this queue for the workers to run ("new", "changed" or
        "same"); schedules given to ``Worker(cron=...)`` are stored this way too."""
        return self._run(CronOps(self.ops).add(schedule, self.serializer),
                               "add_schedule to", write=True)

    def schedules(self) -> list[ScheduleInfo]:
        """This queue's schedules, with their last and next runs."""
        return self._run(CronOps(self.ops).list(), "schedules of")

    def get_schedule(self, name: str) -> ScheduleInfo:
        return self._run(CronOps(self.ops).get(name), "get_schedule on")

    def pause_schedule(self, name: str) -> None:
        self._run(CronOps(self.ops).control("pause", name), "pause_schedule on")

    def resume_schedule(self, name: str) -> None:
        """Resume a paused schedule; ticks that passed while it was paused are skipped."""
        self._run(CronOps(self.ops).control("resume", name), "resume_schedule on")

    def remove_schedule(self, name: str) -> None:
        self._run(CronOps(self.ops).control("remove", name), "remove_schedule on")

    def trigger_schedule(self, name: str) -> SyncJob[Any]:
        """Enqueue a run of the schedule now (its ticks are unchanged)."""
        job_id = self._run(CronOps(self.ops).trigger(name), "trigger_schedule on",
                                 write=True)
        return self.fetch_job(job_id)

    # -- dashboard: search and its index, history, running jobs ------------------------

    def search(self, query: SearchQuery | str, cursor: str | None = None, limit: int = 50,
               budget: int | None = None) -> SearchResult[SyncJob[Any]]:
        """See ``AsyncQueue.search``."""
        q = SearchQuery.parse(query) if isinstance(query, str) else query
        page = self._run(self.ops.search(q, cursor, limit, budget), "search")
        return SearchResult.of(page, [self._record_job(r) for r in page.records])

    def search_index(self) -> IndexInfo:
        return self._run(self.ops.search_index(), "read the search index of")

    def enable_search_index(self, fields: Sequence[str] | None = None, *,
                            backfill: bool = True) -> int:
        """See ``AsyncQueue.enable_search_index``."""
        return self._run(self.ops.enable_search_index(fields, backfill),
                         "enable the search index of")

    def drop_search_index(self) -> None:
        self._run(self.ops.drop_search_index(), "drop the search index of")

    def history(self, resolution: str = "minute", limit: int = 60) -> list[HistorySample]:
        return self._run(self.ops.history(resolution, limit), "read the history of")

    def running(self, start: int = 0, stop: int = -1) -> list[RunningJob]:
        return self._run(self.ops.running(start, stop), "list running jobs of")

    def fetch_jobs(self, *job_ids: str) -> list[SyncJob[Any]]:
        records = self._run(self.ops.records(job_ids), "fetch jobs of")
        return [self._record_job(r) for r in records]
