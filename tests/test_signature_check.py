"""Enqueue checks the arguments against the function's signature, before anything is sent
(the check is cached per function: it runs on every enqueue)."""

from __future__ import annotations

from typing import Any

import pytest

from aqueue import AsyncQueue

QUEUE = AsyncQueue("sig", url="redis://127.0.0.1:1/0")  # prepare() never connects


def two(a: int, b: int = 0) -> int:
    return a + b


def keyword_only(a: int, *, key: str, flag: bool = False) -> str:
    return key


def anything(*args: Any, **kwargs: Any) -> None:
    return None


def test_a_call_that_fits_the_signature_is_prepared() -> None:
    assert QUEUE.prepare(two, 1, b=2).args == b"[1]"
    assert QUEUE.prepare(keyword_only, 1, key="k").kwargs == b'{"key":"k"}'
    assert QUEUE.prepare(anything, 1, 2, 3, x=4).args == b"[1,2,3]"


def test_a_missing_argument_is_named() -> None:
    with pytest.raises(TypeError, match=r"cannot enqueue tests\.test_signature_check\.two: "
                                        "missing a required argument: 'a'"):
        QUEUE.prepare(two)


def test_too_many_positional_arguments_are_refused() -> None:
    with pytest.raises(TypeError, match="too many positional arguments"):
        QUEUE.prepare(two, 1, 2, 3)


def test_a_missing_keyword_only_argument_is_named() -> None:
    with pytest.raises(TypeError, match="missing a required argument: 'key'"):
        QUEUE.prepare(keyword_only, 1, flag=True)


def test_an_unexpected_keyword_that_rq_users_write_gets_a_hint() -> None:
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'timeout' "
                                        r"\(RQ's `timeout` is `job_timeout` in aqueue\)"):
        QUEUE.prepare(two, 1, timeout=5)


def test_the_check_is_the_same_the_second_time() -> None:
    for _ in range(2):  # the second time from the cache
        with pytest.raises(TypeError, match="missing a required argument: 'key'"):
            QUEUE.prepare(keyword_only, 1)
        assert QUEUE.prepare(keyword_only, 1, key="k").func.endswith("keyword_only")


def test_a_builtin_without_a_signature_is_not_checked() -> None:
    assert QUEUE.prepare("os.getpid").func == "os.getpid"
