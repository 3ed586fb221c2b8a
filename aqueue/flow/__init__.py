"""Time and flow control: when and how fast a job may run.

Per job (enqueue options, ``aqueue.JobOptions``): ``priority``, ``at_front``,
``expires``, ``unique`` (``Unique``), ``debounce`` (``Debounce``), ``limit_key``.
Per queue, for every worker at once (``queue.pause()``, ``queue.set_limits(...)``):
pause, a rate (``Rate``) and a concurrency cap, for the queue and per limit key.
Repeating jobs are ``aqueue.cron``.
"""

from aqueue.flow.directive import Debounce, Unique
from aqueue.flow.limits import Limits, Rate

__all__ = ["Debounce", "Limits", "Rate", "Unique"]
