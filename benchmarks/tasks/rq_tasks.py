"""Jobs for RQ (sync functions, as RQ users write them)."""

import time


def noop() -> None:
    return None


def sleep_job() -> None:
    time.sleep(0.05)


def stamp() -> float:
    return time.time()


def sink(data: str) -> None:
    return None
