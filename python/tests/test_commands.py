"""Typed cached reads and writes, read(), pipelines, transactions and scripts
(Cache and AsyncCache) against a real redis-server."""

from __future__ import annotations

import asyncio
import inspect
import multiprocessing
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Union

import pytest
import redis

import nearcache
from conftest import run_async

Flavour = Union[nearcache.Cache, nearcache.AsyncCache]


async def aw(value: Any) -> Any:
    """A result of either class: awaited if it is a coroutine (AsyncCache)."""
    return await value if inspect.isawaitable(value) else value


def both(url: str, body: Callable[[Any], Awaitable[None]], **options: Any) -> None:
    """Runs ``body(cache)`` with a Cache, then with an AsyncCache (the same
    checks: every call goes through ``aw``)."""

    async def with_sync() -> None:
        c = nearcache.Cache(url, **options)
        try:
            await body(c)
        finally:
            c.close()

    asyncio.run(with_sync())
    run_async(url, body, **options)


def read_hits(c: Flavour) -> int:
    return int(c.stats()["l1_read_hits"])


# --- typed reads -----------------------------------------------------------


def test_typed_reads_have_redis_py_types(url: str, raw: redis.Redis, ns: str) -> None:
    h, s, z, lst, st = ns + "h", ns + "s", ns + "z", ns + "l", ns + "str"
    raw.hset(h, mapping={"name": "Ada", "lang": "en"})
    raw.sadd(s, "a", "b", "c")
    raw.zadd(z, {"a": 1, "b": 2.5, "c": 3})
    raw.rpush(lst, "x", "y", "z")
    raw.set(st, "hello")

    async def body(c: Any) -> None:
        assert await aw(c.hget(h, "name")) == b"Ada"
        assert await aw(c.hget(h, "nope")) is None
        assert await aw(c.hmget(h, ["name", "nope"])) == [b"Ada", None]
        assert await aw(c.hmget(h, "name", "lang")) == [b"Ada", b"en"]  # redis-py's (name, keys, *args)
        assert await aw(c.hgetall(h)) == {b"name": b"Ada", b"lang": b"en"}
        assert await aw(c.hexists(h, "name")) is True
        assert await aw(c.hexists(h, "nope")) is False
        assert await aw(c.hlen(h)) == 2
        assert sorted(await aw(c.hkeys(h))) == [b"lang", b"name"]
        assert sorted(await aw(c.hvals(h))) == [b"Ada", b"en"]
        members = await aw(c.smembers(s))
        assert isinstance(members, set) and members == {b"a", b"b", b"c"}
        # redis-py returns 0 / 1 (not bool) for SISMEMBER and SMISMEMBER.
        yes = await aw(c.sismember(s, "b"))
        assert yes == 1 and type(yes) is int
        assert await aw(c.sismember(s, "z")) == 0
        assert await aw(c.smismember(s, ["a", "z"])) == [1, 0]
        assert await aw(c.smismember(s, "a", "b")) == [1, 1]
        assert await aw(c.scard(s)) == 3
        score = await aw(c.zscore(z, "b"))
        assert score == 2.5 and type(score) is float
        assert await aw(c.zscore(z, "nope")) is None
        assert await aw(c.zmscore(z, ["a", "nope"])) == [1.0, None]
        assert await aw(c.zrange(z, 0, -1)) == [b"a", b"b", b"c"]
        assert await aw(c.zrange(z, 0, 1, withscores=True)) == [(b"a", 1.0), (b"b", 2.5)]
        assert await aw(c.zrange(z, 0, 0, desc=True, withscores=True, score_cast_func=int)) == [(b"c", 3)]
        assert await aw(c.zrange(z, "(1", "+inf", byscore=True)) == [b"b", b"c"]
        assert await aw(c.zrange(z, "-inf", "+inf", byscore=True, offset=1, num=1)) == [b"b"]
        assert await aw(c.zrange(z, "[a", "[b", bylex=True)) == [b"a", b"b"]
        assert await aw(c.zrank(z, "c")) == 2
        assert await aw(c.zrevrank(z, "c")) == 0
        assert await aw(c.zrank(z, "nope")) is None
        assert await aw(c.zcard(z)) == 3
        assert await aw(c.zcount(z, "(1", 3)) == 2
        assert await aw(c.lrange(lst, 0, -1)) == [b"x", b"y", b"z"]
        assert await aw(c.lindex(lst, -1)) == b"z"
        assert await aw(c.lindex(lst, 10)) is None
        assert await aw(c.llen(lst)) == 3
        assert await aw(c.strlen(st)) == 5
        assert await aw(c.type(st)) == "string"
        assert await aw(c.type(h)) == "hash"
        assert await aw(c.type(ns + "nope")) == "none"
        assert await aw(c.getbit(st, 1)) == 1  # 'h' is 0b01101000
        assert await aw(c.getbit(st, 0)) == 0
        assert await aw(c.bitcount(st)) == 21
        assert await aw(c.bitcount(st, 0, 0)) == 3
        assert await aw(c.exists(st)) == 1
        assert await aw(c.exists(ns + "nope")) == 0
        assert await aw(c.exists(st, h, ns + "nope")) == 2  # several: a count, as redis-py

        # Every read above is now in L1: the same calls are answered there.
        before = read_hits(c)
        assert await aw(c.hlen(h)) == 2
        assert await aw(c.zrange(z, 0, 1, withscores=True)) == [(b"a", 1.0), (b"b", 2.5)]
        assert await aw(c.smembers(s)) == {b"a", b"b", b"c"}
        assert read_hits(c) == before + 3

    both(url, body)


def test_typed_read_errors(url: str, raw: redis.Redis, ns: str) -> None:
    raw.set(ns + "str", "v")

    async def body(c: Any) -> None:
        with pytest.raises(nearcache.RedisError, match="WRONGTYPE") as info:
            await aw(c.hlen(ns + "str"))
        assert info.value.code == "NC_REDIS"
        with pytest.raises(nearcache.InvalidArgumentError, match="empty"):
            await aw(c.hlen(""))
        with pytest.raises(nearcache.ArgumentTypeError):
            await aw(c.smembers(12345))
        with pytest.raises(nearcache.InvalidArgumentError, match="both"):
            await aw(c.bitcount(ns + "str", 0))
        with pytest.raises(nearcache.InvalidArgumentError, match="byscore and bylex"):
            await aw(c.zrange(ns + "z", 0, 1, byscore=True, bylex=True))

    both(url, body)


def test_read_is_the_generic_cached_read(url: str, raw: redis.Redis, ns: str) -> None:
    raw.zadd(ns + "z", {"a": 1, "b": 2})
    raw.set(ns + "str", "hello")

    async def body(c: Any) -> None:
        assert await aw(c.read("GET", ns + "str")) == b"hello"
        assert await aw(c.read("zrange", ns + "z", 0, -1, "withscores")) == [[b"a", 1.0], [b"b", 2.0]]
        before = read_hits(c)
        assert await aw(c.read("ZRANGE", ns + "z", 0, -1)) == [b"a", b"b"]
        assert await aw(c.read("ZRANGE", ns + "z", 0, -1)) == [b"a", b"b"]
        assert read_hits(c) == before + 1
        for refused in (["TTL", ns + "str"], ["SRANDMEMBER", ns + "z"], ["SET", ns + "str", "x"]):
            with pytest.raises(nearcache.InvalidArgumentError, match=refused[0]) as info:
                await aw(c.read(*refused))
            assert info.value.code == "NC_INVALID_ARGUMENT"
        with pytest.raises(nearcache.InvalidArgumentError):
            await aw(c.read("EXISTS", ns + "str", ns + "z"))  # multi-key: not cached
        with pytest.raises(nearcache.InvalidArgumentError):
            await aw(c.read())

    both(url, body)


# --- typed writes ----------------------------------------------------------


def test_typed_writes_are_read_back_at_once(url: str, raw: redis.Redis, ns: str) -> None:
    async def body(c: Any) -> None:
        n, h, s, z, lst = ns + "n", ns + "h", ns + "s", ns + "z", ns + "l"
        await aw(c.delete_many([n, h, s, z, lst]))
        assert await aw(c.incr(n)) == 1
        assert await aw(c.incr(n, 5)) == 6
        assert await aw(c.incrby(n, 36)) == 42
        assert await aw(c.decr(n)) == 41
        assert await aw(c.decrby(n, 40)) == 1
        assert await aw(c.get(n)) == b"1"  # now in L1
        assert await aw(c.incr(n)) == 2
        assert await aw(c.get(n)) == b"2"  # the write dropped the L1 copy
        assert await aw(c.hset(h, "visits", b"1")) == 1  # redis-py's (name, key, value)
        assert await aw(c.hset(h, mapping={"a": b"x", "b": b"y"})) == 2
        assert await aw(c.hget(h, "visits")) == b"1"
        assert await aw(c.hincrby(h, "visits", 5)) == 6
        assert await aw(c.hget(h, "visits")) == b"6"
        assert await aw(c.sadd(s, "a", "b")) == 2
        assert await aw(c.smembers(s)) == {b"a", b"b"}
        assert await aw(c.srem(s, "a", "z")) == 1
        assert await aw(c.smembers(s)) == {b"b"}
        with pytest.raises(nearcache.InvalidArgumentError, match="nothing to add"):
            await aw(c.sadd(s))
        assert await aw(c.zadd(z, {"a": 1, "b": 2})) == 2
        assert await aw(c.zadd(z, [("a", 5)])) == 0
        assert await aw(c.zrange(z, 0, -1)) == [b"b", b"a"]
        got = await aw(c.zincrby(z, 1.5, "b"))
        assert got == 3.5 and type(got) is float
        assert await aw(c.zrange(z, 0, -1, withscores=True)) == [(b"b", 3.5), (b"a", 5.0)]
        assert await aw(c.zrem(z, "a")) == 1
        assert await aw(c.zcard(z)) == 1
        with pytest.raises(nearcache.InvalidArgumentError, match="nx=True"):
            await aw(c.zadd(z, {"a": 1}, nx=True))
        with pytest.raises(nearcache.InvalidArgumentError, match="NaN"):
            await aw(c.zadd(z, {"a": float("nan")}))
        assert await aw(c.rpush(lst, "x", "y")) == 2
        assert await aw(c.lpush(lst, "w")) == 3
        assert await aw(c.lrange(lst, 0, -1)) == [b"w", b"x", b"y"]
        assert await aw(c.lpop(lst)) == b"w"
        assert await aw(c.rpop(lst)) == b"y"
        assert await aw(c.lrange(lst, 0, -1)) == [b"x"]
        assert await aw(c.rpush(lst, "y", "z")) == 3
        assert await aw(c.ltrim(lst, 0, 0)) is None
        assert await aw(c.llen(lst)) == 1
        assert await aw(c.lpop(ns + "missing")) is None
        assert await aw(c.set(n, b"v", ttl=60)) is True
        assert await aw(c.persist(n)) is True
        assert await aw(c.persist(n)) is False
        assert raw.ttl(n) == -1

    both(url, body, l1={"invalidation": "ttl", "ttl": "60s"})


# --- pipelines -------------------------------------------------------------


def test_pipeline_order_errors_and_l1_answers(url: str, raw: redis.Redis, ns: str) -> None:
    k, h, n = ns + "k", ns + "h", ns + "n"

    async def body(c: Any) -> None:
        await aw(c.delete_many([k, h, n]))
        await aw(c.hset(h, "f", b"1"))
        assert await aw(c.hget(h, "f")) == b"1"  # now in L1
        before = read_hits(c)
        p = c.pipeline(transaction=False)
        assert p.hget(h, "f") is p  # chainable
        p.incr(n).set(k, b"v").incr(k).get(k).hgetall(h).command("PING")
        assert len(p) == 7
        out = await aw(p.execute(raise_on_error=False))
        assert out[:3] == [b"1", 1, True]
        assert isinstance(out[3], nearcache.RedisError) and "not an integer" in str(out[3])
        assert out[3].code == "NC_REDIS"
        assert out[4:] == [b"v", {b"f": b"1"}, "PONG"]
        assert read_hits(c) == before + 1  # the HGET came from L1, the rest went out
        assert len(p) == 0  # execute() empties it
        # raise_on_error (the default): the first command error is raised.
        p.set(k, b"w").incr(k).incr(k)
        with pytest.raises(nearcache.RedisError, match="not an integer"):
            await aw(p.execute())
        assert await aw(c.get(k)) == b"w"  # the commands around the error ran
        # Refused commands raise when queued; nothing is queued.
        with pytest.raises(nearcache.InvalidArgumentError, match="MULTI"):
            p.command("MULTI")
        assert len(p) == 0 and bool(p) is True
        assert await aw(p.execute()) == []

    both(url, body)


def test_pipeline_typed_results(url: str, raw: redis.Redis, ns: str) -> None:
    async def body(c: Any) -> None:
        raw.delete(ns + "s", ns + "z", ns + "h")
        raw.sadd(ns + "s", "a", "b")
        raw.zadd(ns + "z", {"a": 1, "b": 2.5})
        p = c.pipeline(transaction=False)
        p.smembers(ns + "s").sismember(ns + "s", "a").smismember(ns + "s", ["a", "x"]).zscore(ns + "z", "b")
        p.zrange(ns + "z", 0, -1, withscores=True).zrank(ns + "z", "b").zmscore(ns + "z", ["a", "x"])
        p.exists(ns + "s").type(ns + "z").zincrby(ns + "z", 1, "a").ltrim(ns + "nope", 0, 1).persist(ns + "s")
        p.read("SCARD", ns + "s").hset(ns + "h", mapping={"f": b"v"}).hmget(ns + "h", "f", "g").delete(ns + "h")
        out = await aw(p.execute())
        assert out == [
            {b"a", b"b"},
            1,
            [1, 0],
            2.5,
            [(b"a", 1.0), (b"b", 2.5)],
            1,
            [1.0, None],
            1,
            "zset",
            2.0,
            None,
            False,
            2,
            1,
            [b"v", None],
            True,
        ]
        assert type(out[3]) is float and type(out[1]) is int

    both(url, body)


def test_plain_pipelines_fill_l1_and_transactions_bypass_it(url: str, raw: redis.Redis, ns: str) -> None:
    h = ns + "h"

    async def body(c: Any) -> None:
        raw.delete(h)
        raw.hset(h, "f", "1")
        assert await aw(c.pipeline(transaction=False).hget(h, "f").execute()) == [b"1"]
        before = read_hits(c)
        assert await aw(c.hget(h, "f")) == b"1"  # the pipelined read filled L1
        assert read_hits(c) == before + 1
        raw.hset(h, "f", "2")  # L1 (ttl mode) does not hear about it
        assert await aw(c.hget(h, "f")) == b"1"
        assert await aw(c.pipeline(transaction=True).hget(h, "f").execute()) == [b"2"]  # never from L1
        assert await aw(c.pipeline(transaction=False).hget(h, "f").execute()) == [b"1"]  # from L1

    both(url, body, l1={"invalidation": "ttl", "ttl": "60s"})


def test_transaction_pipeline_is_multi_exec(url: str, raw: redis.Redis, ns: str) -> None:
    async def body(c: Any) -> None:
        t = ns + "t"
        raw.delete(t, ns + "m")
        p = c.pipeline()  # redis-py's default: transaction=True
        p.set(t, b"x").incr(t).get(t)
        out = await aw(p.execute(raise_on_error=False))
        assert out[0] is True and isinstance(out[1], nearcache.RedisError) and out[2] == b"x"
        p.set(t, b"y").command("NOSUCHCOMMAND")
        with pytest.raises(nearcache.RedisError, match="aborted, nothing ran"):
            await aw(p.execute())
        assert await aw(c.get(t)) == b"x"
        # multi() on a plain pipeline makes it MULTI ... EXEC too.
        q = c.pipeline(transaction=False)
        q.multi()
        with pytest.raises(nearcache.InvalidArgumentError, match="MULTI"):
            q.multi()
        q.incr(ns + "m").incr(ns + "m")
        assert await aw(q.execute()) == [1, 2]

    both(url, body)


def test_async_pipeline_context_manager(url: str, ns: str) -> None:
    async def body(c: nearcache.AsyncCache) -> None:
        async with c.pipeline(transaction=False) as p:
            await p.set(ns + "a", b"1")  # awaiting a queueing call gives the pipeline
            p.incr(ns + "b")
            assert await p.execute() == [True, 1]

    run_async(url, body)


# --- transactions ----------------------------------------------------------


def test_watch_style_pipeline(url: str, raw: redis.Redis, ns: str) -> None:
    k = ns + "stock"

    async def body(c: Any) -> None:
        await aw(c.set(k, b"5"))
        assert await aw(c.get(k)) == b"5"  # in L1 now
        raw.set(k, "7")  # an outside write L1 does not hear about (ttl mode)
        p = c.pipeline()
        await aw(p.watch(k))
        assert p.watching
        stock = int(await aw(p.get(k)))  # immediate, from Redis, never from L1
        assert stock == 7
        assert c.get_local(k) == b"5"  # ... and it did not fill L1 either
        p.multi()
        assert p.decrby(k, 2) is p  # queued now
        assert await aw(p.execute()) == [5]
        assert not p.watching
        assert await aw(c.get(k)) == b"5"  # own write read back at once
        # A watched key changed by another client: EXEC is aborted.
        await aw(p.watch(k))
        raw.set(k, "9")
        p.multi()
        p.set(k, b"mine")
        with pytest.raises(nearcache.TransactionAbortedError) as info:
            await aw(p.execute())
        assert info.value.code == "NC_TRANSACTION_ABORTED"
        assert raw.get(k) == b"9"

    both(url, body, l1={"invalidation": "ttl", "ttl": "60s"})


def test_transaction_function(url: str, raw: redis.Redis, ns: str) -> None:
    k = ns + "visits"

    def bump(pipe: nearcache._native.Pipeline) -> int:
        seen = int(pipe.get(k) or 0)
        pipe.multi()
        pipe.set(k, str(seen + 1).encode())
        return seen

    with nearcache.Cache(url) as c:
        assert c.transaction(bump, k) == [True]
        assert c.transaction(bump, k, value_from_callable=True) == 1
        assert c.get(k) == b"2"
        # Without watched keys the function's commands are queued for one MULTI.
        assert c.transaction(lambda pipe: pipe.incr(k).incr(k)) == [3, 4]

        # An error from the function ends the transaction and is raised as is.
        def fails(pipe: nearcache._native.Pipeline) -> None:
            pipe.get(k)
            raise KeyError("boom")

        with pytest.raises(KeyError):
            c.transaction(fails, k)
        assert c.transaction(bump, k, value_from_callable=True) == 4

    async def abump(pipe: nearcache._native.AsyncPipeline) -> int:
        seen = int(await pipe.get(k) or 0)
        pipe.multi()
        pipe.set(k, str(seen + 1).encode())
        return seen

    async def body(c: nearcache.AsyncCache) -> None:
        assert await c.transaction(abump, k, value_from_callable=True) == 5
        assert await c.transaction(lambda pipe: pipe.incr(k)) == [7]
        assert await c.get(k) == b"7"

    run_async(url, body)


def test_transaction_retries_then_gives_up(url: str, raw: redis.Redis, ns: str) -> None:
    k = ns + "contended"
    attempts = []

    def always_raced(pipe: Any) -> None:
        attempts.append(1)
        pipe.get(k)
        raw.incr(k)  # another client changes the watched key every time
        pipe.multi()
        pipe.set(k, b"never")

    with nearcache.Cache(url, redis={"transaction_retries": 2}) as c:
        started = time.monotonic()
        with pytest.raises(nearcache.TransactionAbortedError, match="transaction_retries = 2") as info:
            c.transaction(always_raced, k, watch_delay=0.05)
        assert info.value.code == "NC_TRANSACTION_ABORTED"
        assert len(attempts) == 3
        assert time.monotonic() - started >= 0.1  # two delays of watch_delay
        # Each aborted EXEC counts, and the give-up once more: as in Rust's
        # Cache::transaction and Node's transaction().
        assert c.stats()["errors"]["NC_TRANSACTION_ABORTED"] == len(attempts) + 1
    assert raw.get(k) == b"3"

    async def araced(pipe: Any) -> None:
        attempts.append(1)
        await pipe.get(k)
        raw.incr(k)
        pipe.multi()
        pipe.set(k, b"never")

    async def body(c: nearcache.AsyncCache) -> None:
        attempts.clear()
        with pytest.raises(nearcache.TransactionAbortedError):
            await c.transaction(araced, k)
        assert len(attempts) == 2

    run_async(url, body, redis={"transaction_retries": 1})


def _increment_worker(url: str, key: str, times: int) -> None:
    """One process of the 4 x 250 test: WATCH-guarded read-modify-write."""

    def bump(pipe: Any) -> None:
        value = int(pipe.get(key) or 0)
        pipe.multi()
        pipe.set(key, str(value + 1).encode())

    with nearcache.Cache(url, redis={"transaction_retries": 10000}) as c:
        for _ in range(times):
            c.transaction(bump, key)


def test_four_processes_of_watched_increments_end_at_exactly_1000(url: str, raw: redis.Redis, ns: str) -> None:
    key = ns + "counter"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_increment_worker, args=(url, key, 250)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    assert raw.get(key) == b"1000"


def test_seed_transaction_is_all_or_nothing_for_a_concurrent_reader(url: str, raw: redis.Redis, ns: str) -> None:
    atomic, history = ns + "atomic", ns + "history"
    stop = threading.Event()
    seen = {"both": 0, "none": 0, "torn": 0}

    def reader() -> None:
        r = redis.Redis.from_url(url)
        while not stop.is_set():
            # One atomic snapshot of both keys (MULTI on the raw connection).
            with r.pipeline(transaction=True) as p:
                p.hget(atomic, "name")
                p.zscore(history, "atomic")
                name, score = p.execute()
            seen["both" if name and score else "none" if not name and not score else "torn"] += 1
        r.close()

    t = threading.Thread(target=reader)
    t.start()
    try:
        # 1000 ECHOs between the two writes make the batch span several of
        # the server's socket reads: sent without MULTI, the reader's
        # snapshots land between them (checked: dozens of torn reads).
        filler = 1000
        with nearcache.Cache(url, l1={"invalidation": "off"}) as c:
            for _ in range(60):
                p = c.pipeline(transaction=True)
                p.hset(atomic, mapping={"name": b"Project Manhattan", "location": b"Los Alamos"})
                for _ in range(filler):
                    p.command("ECHO", "between the two writes")
                p.zadd(history, {"atomic": 1942})
                out = p.execute()
                assert (out[0], out[-1]) == (2, 1)
                p.delete(atomic)
                for _ in range(filler):
                    p.command("ECHO", "between the two writes")
                p.zrem(history, "atomic")
                out = p.execute()
                assert (out[0], out[-1]) == (True, 1)
    finally:
        stop.set()
        t.join()
    assert seen["torn"] == 0
    assert seen["both"] > 0 and seen["none"] > 0  # the reader saw both states


# --- scripts ---------------------------------------------------------------


def test_scripts_and_noscript_fallback(url: str, raw: redis.Redis, ns: str) -> None:
    k = ns + "s"
    lua = "return redis.call('INCRBY', KEYS[1], ARGV[1])"

    async def body(c: Any) -> None:
        await aw(c.delete(k))
        add = c.register_script(lua)
        assert add.script == lua.encode() and len(add.sha) == 40
        assert await aw(add(keys=[k], args=[5])) == 5
        assert await aw(c.get(k)) == b"5"  # in L1
        assert await aw(add(keys=[k], args=[2])) == 7
        assert await aw(c.get(k)) == b"7"  # the script's key was dropped from L1
        raw.script_flush()
        assert raw.script_exists(add.sha) == [False]
        assert await aw(add(keys=[k], args=[1])) == 8  # NOSCRIPT, then EVAL
        assert raw.script_exists(add.sha) == [True]  # loaded again
        p = c.pipeline(transaction=False)
        assert add(keys=[k], args=[10], client=p) is p
        p.get(k)
        assert await aw(p.execute()) == [18, b"18"]
        assert await aw(c.register_script("return {KEYS[1], ARGV[1], 3}")(keys=["x"], args=["y"])) == [b"x", b"y", 3]
        with pytest.raises(nearcache.RedisError, match="boom"):
            await aw(c.register_script("return redis.error_reply('boom')")())
        with pytest.raises(nearcache.ArgumentTypeError):
            add(keys=[k], args=[1], client=object())

    both(url, body)


# --- writes through every interface are read back at once -----------------


def test_writes_through_every_interface_are_read_back_at_once(url: str, ns: str) -> None:
    k = ns + "k"

    async def body(c: Any) -> None:
        async def cached(value: bytes) -> None:
            assert await aw(c.get(k)) == value
            assert c.get_local(k) == value  # in L1

        await aw(c.set(k, b"0"))
        await cached(b"0")
        await aw(c.incr(k))  # typed
        await cached(b"1")
        await aw(c.pipeline(transaction=False).incr(k).execute())  # pipeline
        await cached(b"2")
        await aw(c.pipeline(transaction=True).incr(k).execute())  # MULTI / EXEC
        await cached(b"3")

        def watched(pipe: Any) -> None:
            pipe.multi()
            pipe.incr(k)

        await aw(c.transaction(watched, k))  # WATCH transaction
        await cached(b"4")
        await aw(c.register_script("return redis.call('INCR', KEYS[1])")(keys=[k]))  # script
        await cached(b"5")
        await aw(c.command("INCR", k))  # raw command
        assert await aw(c.get(k)) == b"6"

    # ttl mode: no invalidation from the server, so only the own-write rule
    # can make these reads see the writes.
    both(url, body, l1={"invalidation": "ttl", "ttl": "60s"})
