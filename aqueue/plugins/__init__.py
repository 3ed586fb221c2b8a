"""A worker's background duties, each a small plugin behind one interface (``Plugin``):
promoting due jobs, reaping expired leases, and whatever later features need (cron,
limits...). A feature arrives as one new plugin, not as edits across the worker."""

from aqueue.plugins.base import Plugin, PluginContext

__all__ = ["Plugin", "PluginContext", "default_plugins"]


def default_plugins() -> list[Plugin]:
    """The plugins every worker runs besides promoting and reaping: the history of each
    queue's counters (for the dashboard's charts) and the control channel (a running
    job's live stack, on request)."""
    from aqueue.plugins.control import Control
    from aqueue.plugins.history import History

    return [History(), Control()]
