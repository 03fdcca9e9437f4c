"""nearcache.AsyncCache against a real redis-server (asyncio.run per test)."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis

import nearcache
from conftest import eventually, in_forked_child, run_async


def test_every_method(url: str, raw: redis.Redis, ns: str) -> None:
    async def body(c: nearcache.AsyncCache) -> None:
        await c.connect()
        assert await c.set(ns + "a", b"1") is True
        assert await c.get(ns + "a") == b"1"
        miss = object()
        assert c.get_local(ns + "a", miss) == b"1"  # synchronous, L1 only
        assert c.get_local(ns + "zzz", miss) is miss
        assert await c.get(ns + "a") == b"1"  # L1 hit: an already-complete awaitable
        assert await c.get(ns + "none") is None
        assert await c.set(ns + "a", b"2", nx=True) is False
        assert await c.set(ns + "b", bytearray(b"2"), ttl=60) is True
        left = await c.ttl(ns + "b")
        assert left is not None and 50 < left <= 60
        assert await c.ttl(ns + "a") == math.inf
        assert await c.ttl(ns + "none") is None
        assert await c.set_json(ns + "j", [1, "x"]) is True
        assert await c.get_json(ns + "j") == [1, "x"]
        assert await c.get_json(ns + "j") == [1, "x"]
        items: dict[str, bytes | memoryview] = {ns + "m1": b"x", ns + "m2": memoryview(b"y")}
        await c.set_many(items, ttl=30)
        assert await c.get_many([ns + "m1", ns + "m2", ns + "m3"]) == [b"x", b"y", None]
        assert await c.expire(ns + "m1", 10) is True
        assert await c.delete(ns + "m1") is True
        assert await c.delete_many([ns + "m2", ns + "m3"]) == 1
        assert await c.hset(ns + "h", {"f": b"v", "g": b"w"}) == 2
        assert await c.hget(ns + "h", "f") == b"v"
        assert await c.hmget(ns + "h", ["f", "x"]) == [b"v", None]
        assert await c.hgetall(ns + "h") == {b"f": b"v", b"g": b"w"}
        assert await c.hdel(ns + "h", "f") == 1
        assert await c.command("PING") == "PONG"
        await c.set_many({f"{ns}s:{i}": b"x" for i in range(5)})
        keys = {k async for k in c.scan(ns + "s:*")}
        assert keys == {f"{ns}s:{i}".encode() for i in range(5)}
        assert await c.delete_prefix(ns + "s:") == 5
        c.invalidate_local(ns + "a")
        c.invalidate_local_all()
        assert c.stats()["l1_hits"] >= 1
        assert "nearcache_l1_hits_total" in c.stats_prometheus()
        assert '"redis"' in c.config_json()
        with pytest.raises(nearcache.InvalidArgumentError):
            await c.command("MULTI")
        with pytest.raises(nearcache.InvalidArgumentError):
            await c.get("")
        with pytest.raises(TypeError):
            await c.get(None)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await c.set(ns + "a", "str")  # type: ignore[arg-type]

    run_async(url, body)
    assert raw.get(ns + "a") == b"1"


def test_get_or_load_with_coroutine_and_plain_loaders(url: str, ns: str) -> None:
    calls = []

    async def loader() -> bytes:
        calls.append(1)
        await asyncio.sleep(0.1)
        return b"loaded"

    async def failing() -> bytes:
        raise LookupError("nope")

    async def body(c: nearcache.AsyncCache) -> None:
        results = await asyncio.gather(*(c.get_or_load(ns + "k", loader, ttl=60) for _ in range(20)))
        assert results == [b"loaded"] * 20
        assert len(calls) == 1
        assert await c.get_or_load(ns + "k", loader) == b"loaded"
        assert await c.get_or_load(ns + "p", lambda: b"plain") == b"plain"
        with pytest.raises(nearcache.LoaderError) as info:
            await c.get_or_load(ns + "f", failing)
        assert isinstance(info.value.__cause__, LookupError)
        with pytest.raises(TypeError):
            await c.get_or_load(ns + "x", 5)  # type: ignore[arg-type]

    run_async(url, body)


def test_cancelling_a_pending_get_leaves_the_cache_usable(url: str, raw: redis.Redis, ns: str) -> None:
    async def body(c: nearcache.AsyncCache) -> None:
        await c.connect()
        raw.client_pause(300)  # replies are held: the get stays pending
        pending = asyncio.ensure_future(c.get(ns + "slow"))
        await asyncio.sleep(0.05)
        assert not pending.done()
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        await c.set(ns + "slow", b"after")
        assert await c.get(ns + "slow") == b"after"
        assert await asyncio.wait_for(c.get(ns + "other"), 5) is None

    run_async(url, body, redis={"command_timeout": "2s"})


def test_many_concurrent_tasks(url: str, ns: str) -> None:
    async def body(c: nearcache.AsyncCache) -> None:
        await c.set_many({f"{ns}{i}": str(i).encode() for i in range(100)})

        async def reader(i: int) -> None:
            for _ in range(20):
                assert await c.get(f"{ns}{i}") == str(i).encode()

        await asyncio.gather(*(reader(i) for i in range(100)))

    run_async(url, body)


def test_tracking_sees_writes_from_other_clients(url: str, raw: redis.Redis, ns: str) -> None:
    async def body(c: nearcache.AsyncCache) -> None:
        raw.set(ns + "t", b"v1")
        assert await c.get(ns + "t") == b"v1"
        raw.set(ns + "t", b"v2")

        async def updated() -> bool:
            return await c.get(ns + "t") == b"v2"

        await eventually(updated, "the invalidation")

    run_async(url, body)


def test_closed_and_unreachable(url: str, ns: str) -> None:
    async def main() -> None:
        c = nearcache.AsyncCache(url)
        async with c:
            await c.set(ns + "k", b"v")
        assert c.closed
        with pytest.raises(nearcache.ClosedError):
            await c.get(ns + "k")
        with pytest.raises(nearcache.ClosedError):
            await c.set(ns + "k", b"v")
        gone = nearcache.AsyncCache("redis://127.0.0.1:1", redis={"connect_timeout": "200ms"})
        with pytest.raises(nearcache.ConnectionError):
            await gone.get(ns + "k")
        with pytest.raises(nearcache.ConfigError):
            nearcache.AsyncCache(url, l1={"ttl": "forever"})

    asyncio.run(main())


def test_fork_child_gets_closed_error(url: str, ns: str) -> None:
    async def prepare() -> nearcache.AsyncCache:
        c = nearcache.AsyncCache(url)
        await c.set(ns + "k", b"v")
        return c

    c = asyncio.run(prepare())

    async def child() -> str:
        try:
            await c.set(ns + "k", b"child")
            return "no error"
        except nearcache.ClosedError as e:
            return "closed:" + str(e)

    msg = in_forked_child(lambda: asyncio.run(asyncio.wait_for(child(), 5)))
    assert msg.startswith("closed:") and "fork" in msg, msg
    asyncio.run(c.close())


def test_one_cache_used_from_successive_event_loops(url: str, ns: str) -> None:
    c = nearcache.AsyncCache(url, l1={"invalidation": "off"})

    async def roundtrip(i: int) -> None:
        await c.set(ns + "loop", str(i).encode())
        assert await c.get(ns + "loop") == str(i).encode()
        assert [k async for k in c.scan(ns + "loop")] == [(ns + "loop").encode()]

    for i in range(3):
        asyncio.run(roundtrip(i))  # a new loop each time: the cache follows it
    asyncio.run(c.close())
    with pytest.raises(nearcache.ClosedError):
        asyncio.run(roundtrip(9))


def test_pending_results_survive_a_burst(url: str, ns: str) -> None:
    async def body(c: nearcache.AsyncCache) -> None:
        await c.set_many({f"{ns}{i}": str(i).encode() for i in range(50)})
        futures = [c.get(f"{ns}{i % 50}") for i in range(2000)]
        results = await asyncio.gather(*futures)
        assert results == [str(i % 50).encode() for i in range(2000)]

    run_async(url, body, l1={"invalidation": "off"})


def test_a_miss_is_counted_once(url: str, ns: str) -> None:
    async def body(c: nearcache.AsyncCache) -> None:
        await c.get(ns + "k")
        await c.get(ns + "k")
        stats = c.stats()
        assert stats["l1_misses"] == 1
        assert stats["l1_negative_hits"] == 1

    run_async(url, body)


def test_get_or_load_keeps_the_callers_context(url: str, ns: str) -> None:
    import contextvars

    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")

    async def loader() -> bytes:
        return request_id.get().encode()

    async def body(c: nearcache.AsyncCache) -> None:
        request_id.set("req-7")
        assert await c.get_or_load(ns + "ctx", loader) == b"req-7"
        assert await c.get_or_load(ns + "ctx2", lambda: request_id.get().encode()) == b"req-7"

    run_async(url, body)


def test_an_async_cache_created_in_a_forked_child_works(url: str, ns: str) -> None:
    asyncio.run(_touch(url, ns))  # the parent has started nearcache's runtime

    async def child() -> bytes | None:
        async with nearcache.AsyncCache(url) as c:
            await c.set(ns + "k", b"child")
            return await c.get_or_load(ns + "k2", lambda: b"loaded")

    msg = in_forked_child(lambda: repr(asyncio.run(asyncio.wait_for(child(), 5))))
    assert msg == repr(b"loaded")


async def _touch(url: str, ns: str) -> None:
    async with nearcache.AsyncCache(url) as c:
        await c.set(ns + "parent", b"p")


def test_calls_are_coroutines_for_every_asyncio_scheduler(url: str, raw: redis.Redis, ns: str) -> None:
    async def body(c: nearcache.AsyncCache) -> None:
        raw.set(ns + "k", b"v")
        miss, hit = c.get(ns + "k"), None
        assert asyncio.iscoroutine(miss)
        assert await asyncio.create_task(miss) == b"v"  # a miss
        hit = c.get(ns + "k")
        assert asyncio.iscoroutine(hit)
        assert await asyncio.create_task(hit) == b"v"  # an L1 hit
        assert await asyncio.ensure_future(c.get(ns + "k")) == b"v"
        assert await asyncio.wait_for(c.get(ns + "none"), 5) is None
        # Calls gathered together run concurrently, over more than one
        # connection: none may rely on another's write.
        raw.set(ns + "k3", b"u")
        assert await asyncio.gather(c.get(ns + "k"), c.set(ns + "k2", b"w"), c.get_many([ns + "k3"])) == [
            b"v",
            True,
            [b"u"],
        ]
        if hasattr(asyncio, "TaskGroup"):  # 3.11+
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(c.get(ns + "k")), tg.create_task(c.delete(ns + "k2"))]
            assert [t.result() for t in tasks] == [b"v", True]
        # asyncio.timeout (3.11+) and shield take any awaitable; check them too.
        assert await asyncio.shield(c.get(ns + "k")) == b"v"
        # Scan steps and the context manager's own awaitables are coroutines too.
        assert asyncio.iscoroutine(c.scan(ns + "*").__anext__())
        # A bad argument still raises at the call, before anything is scheduled.
        with pytest.raises(nearcache.InvalidArgumentError):
            asyncio.create_task(c.get(""))

    run_async(url, body)


def test_an_l1_hit_finishes_on_its_first_step(url: str, ns: str) -> None:
    async def body(c: nearcache.AsyncCache) -> None:
        await c.set(ns + "k", b"v")
        await c.get(ns + "k")  # fills L1
        call = c.get(ns + "k")
        with pytest.raises(StopIteration) as stop:
            call.send(None)  # no yield to the loop: done at once
        assert stop.value.value == b"v"
        # Like an asyncio future, awaiting again gives the same answer.
        assert await call == b"v"
        pending = c.get(ns + "elsewhere")
        waited_on = pending.send(None)  # a miss yields the future it waits on
        assert isinstance(waited_on, asyncio.Future)
        await asyncio.wait([waited_on])  # what the task would do: wait for it
        with pytest.raises(StopIteration) as stop:
            pending.send(None)
        assert stop.value.value is None

    run_async(url, body)


def test_cancelling_pending_calls_in_every_way_leaves_the_cache_usable(url: str, raw: redis.Redis, ns: str) -> None:
    async def body(c: nearcache.AsyncCache) -> None:
        await c.connect()
        raw.client_pause(400)  # replies are held: the calls stay pending
        task = asyncio.create_task(c.get(ns + "slow1"))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(c.get(ns + "slow2"), 0.05)
        thrown = c.get(ns + "slow3")
        future = thrown.send(None)
        with pytest.raises(KeyError):
            thrown.throw(KeyError("gone"))
        assert future.cancelled()
        closed = c.get(ns + "slow4")
        future = closed.send(None)
        closed.close()
        assert future.cancelled()
        # The abandoned calls finish on core's side; their results are dropped.
        await c.set(ns + "slow1", b"after")
        assert await c.get(ns + "slow1") == b"after"
        # No call stays counted in flight: the close that waits for them ends.
        await asyncio.wait_for(c.close(), 5)
        assert c.closed

    run_async(url, body, redis={"command_timeout": "2s"})


def test_close_waits_for_calls_in_flight(url: str, raw: redis.Redis, ns: str) -> None:
    async def main() -> None:
        c = nearcache.AsyncCache(url, redis={"command_timeout": "2s"})
        await c.set(ns + "k", b"v")
        raw.client_pause(300)
        pending = [asyncio.ensure_future(c.get_many([ns + "k", ns + str(i)])) for i in range(5)]
        await asyncio.sleep(0.02)
        closing = c.close()
        assert asyncio.iscoroutine(closing)
        assert not c.closed  # waiting for the five gets
        with pytest.raises(nearcache.ClosedError, match="closing"):
            await c.set(ns + "k", b"late")
        await closing
        assert c.closed
        # Every call in flight finished with its answer, not an error.
        assert all(p.done() for p in pending)
        assert [p.result() for p in pending] == [[b"v", None]] * 5
        await c.close()  # twice: harmless
        await c.aclose()
        with pytest.raises(nearcache.ClosedError):
            await c.get(ns + "k")

    asyncio.run(main())


def test_close_with_nothing_in_flight_and_outside_a_loop(url: str, ns: str) -> None:
    async def main() -> None:
        async with nearcache.AsyncCache(url) as c:
            await c.set(ns + "k", b"v")
        assert c.closed
        await c.close()

    asyncio.run(main())
    c = nearcache.AsyncCache(url)
    done = c.close()  # no running loop: closes at once
    assert c.closed
    asyncio.run(done)  # asyncio.run takes a call as its main coroutine too
