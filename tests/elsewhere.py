"""A module the test workers are NOT allowed to run functions from."""

from __future__ import annotations

imported_by_a_job = False


def defined_elsewhere() -> str:
    return "should never run"
