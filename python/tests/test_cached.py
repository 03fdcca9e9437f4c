"""The @cached decorator."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import nearcache
from nearcache import cached


def test_sync_function_is_computed_once(cache: nearcache.Cache, ns: str) -> None:
    calls: list[int] = []

    @cached(cache, ttl=60, key=ns + "user:{0}")
    def user(uid: int) -> dict[str, int]:
        calls.append(uid)
        return {"id": uid}

    assert user(1) == {"id": 1}
    assert user(1) == {"id": 1}
    assert user(2) == {"id": 2}
    assert calls == [1, 2]
    assert cache.get_json(ns + "user:1") == {"id": 1}
    assert user.__name__ == "user"


def test_default_and_callable_keys(cache: nearcache.Cache, ns: str) -> None:
    calls: list[tuple[int, int]] = []

    @cached(cache)
    def add(a: int, b: int = 0) -> int:
        calls.append((a, b))
        return a + b

    assert add(1, b=2) == 3 == add(1, b=2)
    assert len(calls) == 1
    assert add.__name__ == "add"

    @cached(cache, key=lambda x: f"{ns}sq:{x}".encode(), serialize=str.encode, deserialize=bytes.decode)
    def square(x: int) -> str:
        return str(x * x)

    assert square(4) == "16"
    assert cache.get(f"{ns}sq:4") == b"16"


def test_exceptions_propagate_unchanged_and_are_not_cached(cache: nearcache.Cache, ns: str) -> None:
    attempts: list[int] = []

    @cached(cache, key=ns + "flaky")
    def flaky() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first call fails")
        return 7

    with pytest.raises(RuntimeError, match="first call fails"):
        flaky()
    assert flaky() == 7
    assert flaky() == 7
    assert len(attempts) == 2


def test_single_flight_across_threads(cache: nearcache.Cache, ns: str) -> None:
    calls: list[int] = []

    @cached(cache, key=ns + "slow")
    def slow() -> str:
        calls.append(1)
        time.sleep(0.2)
        return "done"

    barrier = threading.Barrier(6)
    results: list[str] = []

    def worker() -> None:
        barrier.wait()
        results.append(slow())

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["done"] * 6
    assert len(calls) == 1


def test_async_function_with_single_flight(url: str, ns: str) -> None:
    async def main() -> None:
        async with nearcache.AsyncCache(url) as c:
            calls: list[int] = []

            @cached(c, ttl=30, key=ns + "a:{0}")
            async def fetch(n: int) -> list[int]:
                calls.append(n)
                await asyncio.sleep(0.05)
                return [n, n]

            assert await asyncio.gather(*(fetch(3) for _ in range(10))) == [[3, 3]] * 10
            assert await fetch(3) == [3, 3]
            assert calls == [3]

            @cached(c, key=ns + "boom")
            async def boom() -> None:
                raise KeyError("boom")

            with pytest.raises(KeyError):
                await boom()

    asyncio.run(main())


def test_mismatched_cache_kind_is_refused(cache: nearcache.Cache, url: str) -> None:
    with pytest.raises(TypeError, match="AsyncCache"):

        @cached(cache)
        async def f() -> int:
            return 1

    ac = nearcache.AsyncCache(url)
    with pytest.raises(TypeError, match="nearcache.Cache"):

        @cached(ac)
        def g() -> int:
            return 1

    asyncio.run(ac.close())
