"""nearcache.Cache against a real redis-server."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
import redis

import nearcache
from conftest import in_forked_child, wait_until


def test_set_get_roundtrip_with_every_key_and_value_type(cache: nearcache.Cache, ns: str) -> None:
    assert cache.set(ns + "a", b"bytes") is True
    assert cache.get(ns + "a") == b"bytes"
    assert cache.get((ns + "a").encode()) == b"bytes"
    cache.set(ns + "b", bytearray(b"array"))
    cache.set(ns + "c", memoryview(b"xxview")[2:])
    assert cache.get(ns + "b") == b"array"
    assert cache.get(ns + "c") == b"view"
    assert cache.get(ns + "missing") is None
    assert cache.get(ns + "missing") is None  # negative entry
    cache.set(ns + "empty", b"")
    assert cache.get(ns + "empty") == b""
    cache.set(ns + "ü", "ü".encode())
    assert cache.get(ns + "ü") == "ü".encode()



def test_get_local_answers_from_l1_only(cache: nearcache.Cache, ns: str) -> None:
    miss = object()
    assert cache.get_local(ns + "k") is None  # the default default: a miss
    assert cache.get_local(ns + "k", miss) is miss
    cache.set(ns + "k", b"v")
    assert cache.get_local(ns + "k", miss) is miss  # writes do not fill L1
    assert cache.get(ns + "k") == b"v"
    assert cache.get_local(ns + "k", miss) == b"v"
    assert cache.get(ns + "none") is None
    assert cache.get_local(ns + "none", miss) is None  # a cached absence
    with pytest.raises(nearcache.InvalidArgumentError):
        cache.get_local("")
    with pytest.raises(TypeError):
        cache.get_local(5)  # type: ignore[arg-type]
    cache.close()
    with pytest.raises(nearcache.ClosedError):
        cache.get_local(ns + "k")

def test_json_helpers(cache: nearcache.Cache, ns: str) -> None:
    assert cache.set_json(ns + "j", {"name": "Ada", "n": [1, 2]}) is True
    assert cache.get_json(ns + "j") == {"name": "Ada", "n": [1, 2]}
    assert cache.get_json(ns + "nope") is None
    with pytest.raises(TypeError):
        cache.set_json(ns + "j", object())


def test_get_many_answers_in_order(cache: nearcache.Cache, ns: str) -> None:
    cache.set(ns + "1", b"one")
    cache.get(ns + "1")  # in L1
    cache.set(ns + "2", b"two")
    assert cache.get_many([ns + "1", ns + "2", ns + "3"]) == [b"one", b"two", None]
    assert cache.get_many([]) == []
    assert cache.get_many(k for k in [ns + "2"]) == [b"two"]


def test_set_options_and_ttl(cache: nearcache.Cache, ns: str) -> None:
    k = ns + "k"
    assert cache.set(k, b"1", xx=True) is False
    assert cache.set(k, b"1", nx=True) is True
    assert cache.set(k, b"2", nx=True) is False
    assert cache.get(k) == b"1"
    with pytest.raises(nearcache.InvalidArgumentError):
        cache.set(k, b"3", nx=True, xx=True)
    assert cache.ttl(k) == math.inf
    cache.set(k, b"4", ttl=60)
    left = cache.ttl(k)
    assert left is not None and 50 < left <= 60  # write jitter shortens by up to 10 %
    cache.set(k, b"5", ttl=timedelta(minutes=2))
    left = cache.ttl(k)
    assert left is not None and 100 < left <= 120
    assert cache.ttl(ns + "missing") is None
    with pytest.raises(nearcache.InvalidArgumentError):
        cache.set(k, b"x", ttl=0)
    with pytest.raises(nearcache.InvalidArgumentError):
        cache.set(k, b"x", ttl=-1)
    with pytest.raises(TypeError):
        cache.set(k, b"x", ttl="10s")  # type: ignore[arg-type]


def test_set_many(cache: nearcache.Cache, ns: str) -> None:
    cache.set_many({ns + "a": b"1", ns + "b": b"2"})
    assert cache.get_many([ns + "a", ns + "b"]) == [b"1", b"2"]
    cache.set_many([(ns + "c", b"3")], ttl=30)
    assert cache.get(ns + "c") == b"3"
    left = cache.ttl(ns + "c")
    assert left is not None and left <= 30
    cache.set_many({})
    with pytest.raises(TypeError):
        cache.set_many([ns + "x"])  # type: ignore[list-item]


def test_delete_and_expire(cache: nearcache.Cache, ns: str) -> None:
    cache.set(ns + "a", b"1")
    assert cache.get(ns + "a") == b"1"
    assert cache.delete(ns + "a") is True
    assert cache.get(ns + "a") is None  # own write: L1 dropped at once
    assert cache.delete(ns + "a") is False
    cache.set_many({ns + "b": b"1", ns + "c": b"2"})
    assert cache.delete_many([ns + "b", ns + "c", ns + "d"]) == 2
    cache.set(ns + "e", b"1")
    assert cache.expire(ns + "e", 100) is True
    left = cache.ttl(ns + "e")
    assert left is not None and 90 < left <= 100
    assert cache.expire(ns + "missing", 10) is False
    with pytest.raises(TypeError):
        cache.expire(ns + "e", None)  # type: ignore[arg-type]


def test_hashes(cache: nearcache.Cache, ns: str) -> None:
    h = ns + "h"
    mixed: dict[bytes | str, bytes] = {"a": b"1", b"b": b"2"}
    assert cache.hset(h, mixed) == 2
    assert cache.hget(h, "a") == b"1"
    assert cache.hget(h, "zz") is None
    assert cache.hmget(h, ["a", "b", "c"]) == [b"1", b"2", None]
    assert cache.hgetall(h) == {b"a": b"1", b"b": b"2"}
    assert cache.hdel(h, "a", "c") == 1
    assert cache.hgetall(h) == {b"b": b"2"}
    assert cache.hgetall(ns + "nohash") == {}
    cache.set(ns + "str", b"x")
    with pytest.raises(nearcache.RedisError) as info:
        cache.hget(ns + "str", "f")
    assert info.value.code == "NC_REDIS"


def test_get_or_load_runs_loader_once_and_chains_errors(cache: nearcache.Cache, ns: str) -> None:
    calls = []

    def loader() -> bytes:
        calls.append(1)
        return b"loaded"

    assert cache.get_or_load(ns + "k", loader, ttl=60) == b"loaded"
    assert cache.get_or_load(ns + "k", loader) == b"loaded"
    assert len(calls) == 1
    assert cache.get(ns + "k") == b"loaded"

    def failing() -> bytes:
        raise KeyError("backend down")

    with pytest.raises(nearcache.LoaderError) as info:
        cache.get_or_load(ns + "f", failing)
    assert isinstance(info.value.__cause__, KeyError)
    assert info.value.code == "NC_LOADER"
    with pytest.raises(nearcache.LoaderError) as info:
        cache.get_or_load(ns + "g", lambda: "a str")  # type: ignore[arg-type, return-value]
    assert isinstance(info.value.__cause__, TypeError)
    with pytest.raises(TypeError):
        cache.get_or_load(ns + "h", b"not callable")  # type: ignore[arg-type]


def test_get_or_load_single_flight_across_threads(cache: nearcache.Cache, ns: str) -> None:
    calls = []
    barrier = threading.Barrier(8)

    def loader() -> bytes:
        calls.append(1)
        time.sleep(0.2)
        return b"v"

    results: list[bytes] = []

    def worker() -> None:
        barrier.wait()
        results.append(cache.get_or_load(ns + "sf", loader))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [b"v"] * 8
    assert len(calls) == 1


def test_invalidate_local(ttl_cache: nearcache.Cache, raw: redis.Redis, ns: str) -> None:
    k = ns + "k"
    ttl_cache.set(k, b"old")
    assert ttl_cache.get(k) == b"old"
    raw.set(k, b"new")
    assert ttl_cache.get(k) == b"old"  # ttl mode: L1 serves until invalidated
    ttl_cache.invalidate_local(k)
    assert ttl_cache.get(k) == b"new"
    raw.set(k, b"newer")
    ttl_cache.invalidate_local_all()
    assert ttl_cache.get(k) == b"newer"
    ttl_cache.invalidate_local()  # no keys: nothing to do


def test_tracking_sees_writes_from_other_clients(cache: nearcache.Cache, raw: redis.Redis, ns: str) -> None:
    k = ns + "tracked"
    raw.set(k, b"v1")
    assert cache.get(k) == b"v1"
    assert cache.get(k) == b"v1"  # from L1 now
    raw.set(k, b"v2")
    wait_until(lambda: cache.get(k) == b"v2", "the invalidation")
    assert cache.stats()["invalidations"] >= 1


def test_scan_and_delete_prefix(cache: nearcache.Cache, ns: str) -> None:
    cache.set_many({f"{ns}s:{i}": b"x" for i in range(25)})
    keys = set(cache.scan(ns + "s:*"))
    assert keys == {f"{ns}s:{i}".encode() for i in range(25)}
    assert cache.delete_prefix(ns + "s:") == 25
    assert list(cache.scan(ns + "s:*")) == []
    with pytest.raises(nearcache.InvalidArgumentError):
        cache.delete_prefix("")


def test_command(cache: nearcache.Cache, ns: str) -> None:
    assert cache.command("PING") == "PONG"
    assert cache.command("INCRBY", ns + "n", 5) == 5
    assert cache.command("GET", ns + "n") == b"5"
    cache.set(ns + "c", b"1")
    assert cache.get(ns + "c") == b"1"
    cache.command("SET", ns + "c", "2")  # a raw write drops the L1 entry
    assert cache.get(ns + "c") == b"2"
    assert cache.command("GET", ns + "none") is None
    assert cache.command("RPUSH", ns + "l", "a", "b") == 2
    assert cache.command("LRANGE", ns + "l", 0, -1) == [b"a", b"b"]
    with pytest.raises(nearcache.InvalidArgumentError):
        cache.command("MULTI")
    with pytest.raises(ValueError):
        cache.command("SUBSCRIBE", "ch")
    with pytest.raises(nearcache.RedisError):
        cache.command("NOSUCHCOMMAND")
    with pytest.raises(TypeError):
        cache.command("SET", ns + "x", None)  # type: ignore[arg-type]


def test_stats(cache: nearcache.Cache, ns: str) -> None:
    cache.set(ns + "k", b"v")
    cache.get(ns + "k")
    cache.get(ns + "k")
    stats = cache.stats()
    assert isinstance(stats, dict)
    assert stats["l1_hits"] >= 1
    assert stats["l1_misses"] >= 1
    assert isinstance(stats["flushes"], dict)
    assert isinstance(stats["latency"], dict)
    json.dumps(stats)
    text = cache.stats_prometheus()
    assert "nearcache_l1_hits_total" in text


def test_close_and_context_manager(url: str, ns: str) -> None:
    with nearcache.Cache(url) as c:
        c.set(ns + "k", b"v")
        assert not c.closed
    assert c.closed
    with pytest.raises(nearcache.ClosedError) as info:
        c.get(ns + "k")
    assert info.value.code == "NC_CLOSED"
    with pytest.raises(nearcache.ClosedError):
        c.set(ns + "k", b"v")
    c.close()  # twice is fine
    assert "closed=True" in repr(c)


def test_bad_arguments_raise_type_errors(cache: nearcache.Cache) -> None:
    for bad in (None, 1, 1.5, ["k"], object()):
        with pytest.raises(TypeError, match="key must be bytes or str"):
            cache.get(bad)  # type: ignore[arg-type]
    for bad in (None, "str", 1, {"a": 1}):
        with pytest.raises(TypeError, match="value must be bytes"):
            cache.set("k", bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="iterable of keys"):
        cache.get_many("abc")
    with pytest.raises(TypeError):
        cache.get_many(5)  # type: ignore[arg-type]


def test_key_and_value_sizes(cache: nearcache.Cache, raw: redis.Redis, url: str, ns: str) -> None:
    with pytest.raises(nearcache.InvalidArgumentError) as info:
        cache.get("")
    assert isinstance(info.value, ValueError)
    with pytest.raises(nearcache.InvalidArgumentError):
        cache.set(b"", b"v")
    long_key = (ns + "k" * nearcache.MAX_KEY_LEN).encode()
    with pytest.raises(nearcache.InvalidArgumentError):
        cache.get(long_key)
    with pytest.raises(nearcache.InvalidArgumentError):
        cache.set(b"k" * (1 << 20), b"v")
    max_key = b"k" * nearcache.MAX_KEY_LEN
    cache.set(max_key, b"v")
    assert cache.get(max_key) == b"v"
    cache.delete(max_key)
    big = os.urandom(1 << 20) + b"tail"  # incompressible: stored as is
    cache.set(ns + "big", big)
    assert cache.get(ns + "big") == big
    assert raw.get(ns + "big") == big
    compressible = b"0123456789abcdef" * (1 << 17)  # 2 MiB
    cache.set(ns + "zip", compressible)
    assert cache.get(ns + "zip") == compressible
    stored = raw.get(ns + "zip")
    assert stored is not None and len(stored) < len(compressible) and stored[:3] == b"\x00NC"
    fresh = nearcache.Cache(url)
    assert fresh.get(ns + "zip") == compressible  # decompressed by another cache
    fresh.close()


def test_values_cross_with_redis_py(cache: nearcache.Cache, raw: redis.Redis, ns: str) -> None:
    cache.set(ns + "a", b"written by nearcache")
    assert raw.get(ns + "a") == b"written by nearcache"
    raw.set(ns + "b", b"written by redis-py")
    assert cache.get(ns + "b") == b"written by redis-py"
    cache.hset(ns + "h", {"f": b"v"})
    assert raw.hget(ns + "h", "f") == b"v"
    cache.set_json(ns + "j", {"a": 1})
    assert json.loads(raw.get(ns + "j") or b"") == {"a": 1}


def test_threads_share_one_cache(cache: nearcache.Cache, ns: str) -> None:
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            for i in range(100):
                k = f"{ns}{t}:{i % 10}"
                cache.set(k, f"{t}-{i}".encode())
                assert cache.get(k) == f"{t}-{i}".encode()  # read your own writes
                cache.get(f"{ns}shared")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    cache.set(ns + "shared", b"s")
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_gil_is_released_while_waiting_on_redis(url: str, raw: redis.Redis, ns: str) -> None:
    c = nearcache.Cache(url, redis={"command_timeout": "2s"})
    c.connect()
    ticks = 0
    done = threading.Event()

    def spin() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1

    raw.client_pause(300)  # the server holds replies for 300 ms
    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        assert c.get(ns + "paused") is None
    finally:
        done.set()
        spinner.join()
        c.close()
    assert ticks > 1000, "another Python thread could not run while get() waited"


def test_unreachable_server(ns: str) -> None:
    c = nearcache.Cache("redis://127.0.0.1:1", redis={"connect_timeout": "200ms"})
    with pytest.raises(nearcache.ConnectionError) as info:
        c.get(ns + "k")
    assert isinstance(info.value, ConnectionError)  # the builtin
    assert info.value.code == "NC_CONNECTION"
    with pytest.raises(ConnectionError):
        c.set(ns + "k", b"v")
    c.close()


def test_bad_config(tmp_path, url: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(nearcache.ConfigError, match=r"l1\.max_bytes") as info:
        nearcache.Cache(url, l1={"max_bytes": "lots"})
    assert info.value.code == "NC_CONFIG"
    with pytest.raises(nearcache.ConfigError, match="nonsense"):
        nearcache.Cache(url, nonsense=1)
    with pytest.raises(nearcache.ConfigError, match="url"):
        nearcache.Cache(url, redis={"url": url})
    with pytest.raises(nearcache.ConfigError):
        nearcache.Cache("not a url")
    with pytest.raises(TypeError):
        nearcache.Cache(url, l1={"max_bytes": object()})
    with pytest.raises(TypeError):
        nearcache.Cache(42)  # type: ignore[arg-type]
    with pytest.raises(nearcache.ConfigError, match="cannot read"):
        nearcache.Cache.from_config(tmp_path / "missing.toml")


def test_from_config_and_config_json(tmp_path, url: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "nearcache.toml"
    secret = url.replace("redis://", "redis://user:hunter2@")
    path.write_text(f'[redis]\nurl = "{secret}"\n[l1]\nmax_bytes = "16MiB"\n')
    c = nearcache.Cache.from_config(path)
    dumped = json.loads(c.config_json())
    assert dumped["l1"]["max_bytes"] == "16MiB"
    assert "hunter2" not in c.config_json()
    assert "hunter2" not in repr(c)
    c.close()
    kw = nearcache.Cache(url, l1={"max_bytes": "16MiB", "ttl": "10s"}, compression={"algorithm": "zstd"})
    assert json.loads(kw.config_json())["compression"]["algorithm"] == "zstd"
    kw.close()


def test_fork_child_gets_closed_error(cache: nearcache.Cache, ns: str) -> None:
    cache.set(ns + "k", b"v")
    assert cache.get(ns + "k") == b"v"

    def child() -> str:
        try:
            cache.get(ns + "k")
            return "no error"
        except nearcache.ClosedError as e:
            return "closed:" + str(e)

    msg = in_forked_child(child)
    assert msg.startswith("closed:") and "fork" in msg, msg
    assert cache.get(ns + "k") == b"v"  # the parent's cache still works


def test_a_miss_is_counted_once(url: str, ns: str) -> None:
    with nearcache.Cache(url) as c:
        c.get(ns + "k")
        c.get(ns + "k")  # a cached absence
        stats = c.stats()
        assert stats["l1_misses"] == 1
        assert stats["l1_negative_hits"] == 1


def test_a_cache_created_in_a_forked_child_works(cache: nearcache.Cache, url: str, ns: str) -> None:
    cache.set(ns + "k", b"parent")  # the parent has started nearcache's runtime

    def child() -> str:
        with nearcache.Cache(url) as fresh:
            fresh.set(ns + "k", b"child")
            return repr(fresh.get(ns + "k"))

    assert in_forked_child(child) == repr(b"child")
    assert cache.get(ns + "k") == b"child"


def test_a_rust_panic_becomes_internal_error() -> None:
    from nearcache import _native

    with pytest.raises(nearcache.InternalError) as info:
        _native._panic_for_tests("boom")
    assert str(info.value) == "internal error (a bug in nearcache, please report it): panic: boom"
    assert info.value.code == "NC_INTERNAL"


def test_client_list_names_the_platform_instance(url: str, raw: redis.Redis) -> None:
    # A child process, so that DYNO is set for it alone (no global env change here).
    script = (
        "import os, sys, nearcache\n"
        "c = nearcache.Cache(sys.argv[1])\n"
        "c.connect()\n"
        "print(os.getpid())\n"
        "sys.stdout.flush()\n"
        "sys.stdin.readline()\n"  # connected until the parent has looked
    )
    env = {**os.environ, "DYNO": "web.1"}  # the first of core's INSTANCE_VARS
    child = subprocess.Popen(
        [sys.executable, "-c", script, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        pid = child.stdout.readline().strip()
        names = [c["name"] for c in raw.client_list()]
        assert any(n.endswith(f":web.1:{pid}") for n in names), names
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.wait(10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
