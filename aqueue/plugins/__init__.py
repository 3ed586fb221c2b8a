"""A worker's background duties, each a small plugin behind one interface (``Plugin``):
promoting due jobs, reaping expired leases, and whatever later features need (cron,
limits...). A feature arrives as one new plugin, not as edits across the worker."""

from aqueue.plugins.base import Plugin, PluginContext

__all__ = ["Plugin", "PluginContext"]
