"""A module that fails at import, for the worker's --import error test."""

raise RuntimeError("this module is broken on purpose")
