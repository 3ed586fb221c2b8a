"""Imported by no test worker: a job naming it must not cause an import."""

from __future__ import annotations


def run() -> None:
    raise AssertionError("a job imported and ran a module the worker was not given")
