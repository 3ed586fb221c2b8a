"""The sync store's connection pool: threads borrow a connection per command, wait when
all are busy, and get a clear error when none frees up in time."""

from __future__ import annotations

import threading
import time

import pytest

from aqueue.store.sync_store import PoolExhausted, SyncStore
from aqueue.store.urls import parse_url


def test_more_threads_than_connections_all_get_their_replies(redis_url: str) -> None:
    store = SyncStore(parse_url(redis_url), pool_size=2)
    replies: dict[int, list[bytes]] = {}

    def work(n: int) -> None:
        replies[n] = [store.call("ECHO", f"{n}-{i}") for i in range(50)]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    store.close()
    assert replies == {n: [f"{n}-{i}".encode() for i in range(50)] for n in range(20)}


def test_a_pool_whose_connections_stay_busy_says_so_after_its_timeout(redis_url: str) -> None:
    store = SyncStore(parse_url(redis_url), pool_size=2, pool_timeout=0.2)
    pool = store._pool(store.address_for(None))
    held = [pool.acquire(1), pool.acquire(1)]
    started = time.monotonic()
    with pytest.raises(PoolExhausted, match=r"all 2 connections to Redis at 127\.0\.0\.1:\d+ "
                                            r"were busy for 0\.2 s; raise pool_size"):
        store.call("PING")
    assert time.monotonic() - started >= 0.2
    pool.release(held.pop())
    assert store.call("PING") == b"PONG"  # a freed connection is handed on
    store.close()


def test_a_waiting_thread_takes_the_connection_another_frees(redis_url: str) -> None:
    store = SyncStore(parse_url(redis_url), pool_size=1, pool_timeout=5)
    pool = store._pool(store.address_for(None))
    held = pool.acquire(1)
    threading.Timer(0.1, pool.release, args=(held,)).start()
    assert store.call("PING") == b"PONG"
    assert len(pool.idle) == 1 and pool.busy == 0
    store.close()
