"""Pieces with no Redis: retry delays, serializers."""

from __future__ import annotations

import pytest

from aqueue import JSONSerializer, Retry
from aqueue.serializers import get_serializer


def test_retry_intervals_use_the_list_then_repeat_the_last() -> None:
    retry = Retry(max=5, interval=[10, 30, 60])
    assert [retry.delay(n) for n in range(1, 6)] == [10, 30, 60, 60, 60]


def test_retry_with_a_single_interval() -> None:
    assert Retry(max=2, interval=5).delay(2) == 5


def test_exponential_retry_doubles_up_to_the_cap_without_jitter() -> None:
    retry = Retry.exponential(max=10, base=1, factor=2, cap=20, jitter=False)
    assert [retry.delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 16, 20]


def test_exponential_retry_jitter_stays_within_half_to_full_delay() -> None:
    retry = Retry.exponential(max=10, base=4, jitter=True)
    delays = [retry.delay(3) for _ in range(200)]
    assert all(8 <= d <= 16 for d in delays)
    assert len(set(delays)) > 100


def test_retry_round_trips_through_json() -> None:
    retry = Retry.exponential(max=3, base=2)
    assert Retry.from_json(retry.to_json()) == Retry(
        max=3, interval=(2.0,), backoff=2.0, max_interval=300.0, jitter=True)


@pytest.mark.parametrize("bad", [{"max": -1}, {"max": 1, "interval": []},
                                 {"max": 1, "interval": -2}, {"max": 1, "backoff": 0.5}])
def test_invalid_retry_policies_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Retry(**bad)  # type: ignore[arg-type]


def test_json_serializer_refuses_nan() -> None:
    with pytest.raises(ValueError):
        JSONSerializer().dumps(float("nan"))


def test_unknown_serializer_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown serializer 'yaml'; choose one of"):
        get_serializer("yaml")


def test_an_object_without_dumps_and_loads_is_not_a_serializer() -> None:
    with pytest.raises(TypeError, match="no dumps"):
        get_serializer(object())  # type: ignore[arg-type]
