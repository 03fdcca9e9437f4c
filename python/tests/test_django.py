"""nearcache.contrib.django beyond Django's generic suite (which
`make django-test` runs): the L1 and invalidation underneath, the shared
cache, the serializer opt-out, OPTIONS, timeouts and the async methods."""

from __future__ import annotations

import asyncio
import pickle
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured

import nearcache
from conftest import in_forked_child, wait_until
from nearcache.contrib.django import NearcacheCache, PickleSerializer, RawSerializer


def backend(url: str, prefix: str, **params: Any) -> NearcacheCache:
    return NearcacheCache(url, {"KEY_PREFIX": prefix, **params})


@pytest.fixture
def prefix() -> str:
    return f"dj{uuid.uuid4().hex[:12]}"


@pytest.fixture
def dj(url: str, prefix: str) -> NearcacheCache:
    return backend(url, prefix)


def test_reads_come_from_l1_and_see_other_writers(dj: NearcacheCache, raw: redis.Redis) -> None:
    dj.set("user", {"name": "Ada"})
    assert dj.get("user") == {"name": "Ada"}
    hits = dj.nearcache.stats()["l1_hits"]
    assert dj.get("user") == {"name": "Ada"}
    assert dj.nearcache.stats()["l1_hits"] == hits + 1  # answered by L1
    # Another process writes the key: the server's invalidation reaches L1.
    raw.set(dj.make_key("user"), pickle.dumps({"name": "Grace"}))
    wait_until(lambda: dj.get("user") == {"name": "Grace"}, "the outside write to be seen")


def test_values_are_pickled_and_ints_stored_raw(dj: NearcacheCache, raw: redis.Redis) -> None:
    dj.set("n", 41)
    dj.set("flag", True)  # a bool is not an int here: pickled
    assert raw.get(dj.make_key("n")) == b"41"
    assert dj.incr("n") == 42 and raw.get(dj.make_key("n")) == b"42"
    assert dj.decr("n", 2) == 40 and dj.get("n") == 40
    flag = raw.get(dj.make_key("flag"))
    assert isinstance(flag, bytes) and pickle.loads(flag) is True
    with pytest.raises(ValueError, match="not found"):
        dj.incr("missing")
    dj.set("text", "abc")
    with pytest.raises(nearcache.RedisError):
        dj.incr("text")


def test_raw_serializer_is_the_opt_out(url: str, prefix: str, raw: redis.Redis) -> None:
    for serializer in (RawSerializer, "nearcache.contrib.django.RawSerializer"):
        c = backend(url, prefix, OPTIONS={"serializer": serializer})
        c.set("blob", b"\x00\x01 raw")
        assert raw.get(c.make_key("blob")) == b"\x00\x01 raw"
        assert c.get("blob") == b"\x00\x01 raw"
        assert c.get_many(["blob", "nothing"]) == {"blob": b"\x00\x01 raw"}
        c.set("count", b"9")
        assert c.incr("count") == 10 and c.get("count") == b"10"
        with pytest.raises(TypeError, match="bytes-like"):
            c.set("obj", {"not": "bytes"})


def test_serializer_may_be_an_instance(url: str, prefix: str) -> None:
    c = backend(url, prefix, OPTIONS={"serializer": PickleSerializer(protocol=2)})
    c.set("v", [1, 2])
    assert c.get("v") == [1, 2]
    assert c.nearcache.get(c.make_key("v"))[:2] == b"\x80\x02"  # type: ignore[index]


def test_one_cache_per_location_and_options(url: str, prefix: str) -> None:
    a = backend(url, prefix)
    made: list[NearcacheCache] = []
    t = threading.Thread(target=lambda: made.append(backend(url, prefix + "x")))
    t.start()
    t.join()
    assert made[0].nearcache is a.nearcache  # Django's per-thread backends share L1
    other = backend(url, prefix, OPTIONS={"l1": {"max_bytes": "1MiB"}})
    assert other.nearcache is not a.nearcache
    a.close()  # Django calls it after every request: the cache stays open
    a.set("k", 1)
    assert a.get("k") == 1


def test_options_are_the_config_tree(url: str, prefix: str) -> None:
    off = backend(url, prefix, OPTIONS={"l1": {"invalidation": "off"}})
    assert off.nearcache.stats()["l1_max_bytes"] == 0
    with pytest.raises(nearcache.ConfigError, match="l1.max_bytes"):
        backend(url, prefix, OPTIONS={"l1": {"max_bytes": "lots"}})
    with pytest.raises(ImproperlyConfigured, match="MAX_ENTRIES"):
        backend(url, prefix, OPTIONS={"MAX_ENTRIES": 10})
    with pytest.raises(ImproperlyConfigured, match="one Redis URL"):
        NearcacheCache([url, url], {})
    assert NearcacheCache([url], {}).nearcache is NearcacheCache(url, {}).nearcache


def test_timeouts(dj: NearcacheCache, raw: redis.Redis) -> None:
    dj.set("forever", 1, timeout=None)
    assert raw.ttl(dj.make_key("forever")) == -1
    dj.set("soon", 1, timeout=100.5)
    assert 90 <= raw.ttl(dj.make_key("soon")) <= 101  # write.ttl_jitter shortens by up to 10 %
    dj.set("gone", 1)
    dj.set("gone", 2, timeout=0)
    assert not raw.exists(dj.make_key("gone"))
    dj.set("gone", 1)
    dj.set("gone", 2, timeout=-5)
    assert not raw.exists(dj.make_key("gone"))
    assert dj.add("never", 1, timeout=0) is True and not raw.exists(dj.make_key("never"))
    dj.set("touched", 1, timeout=100)
    assert dj.touch("touched", timeout=None) is True and raw.ttl(dj.make_key("touched")) == -1
    assert dj.touch("touched", timeout=None) is True  # no expiry already: still there
    assert dj.touch("touched", timeout=50) is True and 0 < raw.ttl(dj.make_key("touched")) <= 50
    assert dj.touch("absent") is False and dj.touch("absent", timeout=None) is False
    assert dj.touch("touched", timeout=0) is True and not raw.exists(dj.make_key("touched"))


def test_async_methods(url: str, prefix: str) -> None:
    # Database 9: aclear() is FLUSHDB, which must not empty the session's database 0.
    dj = backend(f"{url}/9", prefix)

    async def body() -> None:
        await dj.aset("a", {"x": 1})
        assert await dj.aget("a") == {"x": 1}
        hits = dj.nearcache.stats()["l1_hits"]
        assert await dj.aget("a") == {"x": 1}  # answered on the loop, from L1
        assert dj.nearcache.stats()["l1_hits"] == hits + 1
        assert await dj.aget("missing", "default") == "default"
        dj.set("sync", "written")  # the same cache behind both APIs
        assert await dj.aget("sync") == "written"
        assert await dj.aadd("a", 2) is False
        await dj.aset_many({"m1": 1, "m2": 2})
        assert await dj.aget_many(["m1", "m2", "m3"]) == {"m1": 1, "m2": 2}
        assert await dj.ahas_key("m1") is True and await dj.ahas_key("m3") is False
        assert await dj.aincr("m1", 5) == 6 and await dj.adecr("m1") == 5
        assert await dj.atouch("m2", timeout=None) is True
        await dj.adelete_many(["m1", "m2"])
        assert await dj.aget_many(["m1", "m2"]) == {}
        assert await dj.adelete("a") is True and await dj.adelete("a") is False
        assert await dj.aget_or_set("gos", lambda: "made") == "made"
        assert await dj.aincr_version("gos") == 2 and await dj.aget("gos", version=2) == "made"
        await dj.aclose()
        await dj.aclear()
        assert await dj.aget("sync") is None
        assert backend(url, prefix).get("db0") == "kept"  # only database 9 was flushed

    backend(url, prefix).set("db0", "kept")
    asyncio.run(body())


def test_forked_child_gets_its_own_cache(dj: NearcacheCache, url: str, prefix: str) -> None:
    dj.set("before", "fork")

    def child() -> str:
        # The parent's cache refuses calls after fork(); a new backend works.
        return str(backend(url, prefix).get("before"))

    assert in_forked_child(child) == "fork"


@pytest.fixture(autouse=True)
def _clean(raw: redis.Redis, prefix: str) -> Iterator[None]:
    yield
    for key in raw.scan_iter(f"{prefix}*"):
        raw.delete(key)
