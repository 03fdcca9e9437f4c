"""Every error nearcache raises carries its code; wrong argument types raise
``ArgumentTypeError`` (a ``TypeError`` and an ``InvalidArgumentError``).

The paths walked here are every argument conversion of the binding, sync and
async alike, plus the errors the binding raises itself. None may show the
base class's default code.
"""

from __future__ import annotations

import asyncio
import builtins
import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

import nearcache

DEFAULT_CODE = nearcache.NearcacheError.code

# (what, call on a Cache): each must raise ArgumentTypeError.
WRONG_TYPES: list[tuple[str, Callable[[Any], Any]]] = [
    ("bad key type", lambda c: c.get(1)),
    ("bad key type in get_local", lambda c: c.get_local(None)),
    ("bad key in get_many", lambda c: c.get_many([b"k", 2])),
    ("a lone str as keys", lambda c: c.get_many("abc")),
    ("non-iterable keys", lambda c: c.delete_many(5)),
    ("bad value type", lambda c: c.set("k", "str")),
    ("bad ttl type", lambda c: c.set("k", b"v", ttl="10s")),
    ("bool ttl", lambda c: c.set("k", b"v", ttl=True)),
    ("None ttl for expire", lambda c: c.expire("k", None)),
    ("bad flag type", lambda c: c.set("k", b"v", nx=1)),
    ("bad items", lambda c: c.set_many([b"k"])),
    ("bad hash mapping", lambda c: c.hset("h", 5)),
    ("bad field", lambda c: c.hdel("h", b"f", 3)),
    ("bad command argument", lambda c: c.command("SET", "k", None)),
    ("bool command argument", lambda c: c.command("SET", "k", True)),
    ("non-callable loader", lambda c: c.get_or_load("k", b"not callable")),
    ("bad scan pattern", lambda c: c.scan(5)),
    ("bad invalidate key", lambda c: c.invalidate_local(b"k", 1.5)),
    ("unserializable JSON", lambda c: c.set_json("k", object())),
]

# (what, call on a Cache): each must raise InvalidArgumentError, not a TypeError.
BAD_VALUES: list[tuple[str, Callable[[Any], Any]]] = [
    ("negative ttl", lambda c: c.set("k", b"v", ttl=-1)),
    ("NaN ttl", lambda c: c.set("k", b"v", ttl=math.nan)),
    ("infinite ttl", lambda c: c.set("k", b"v", ttl=math.inf)),
    ("negative timedelta", lambda c: c.set("k", b"v", ttl=timedelta(seconds=-1))),
    ("expire -5", lambda c: c.expire("k", -5)),
    ("zero ttl", lambda c: c.set("k", b"v", ttl=0)),
    ("empty key", lambda c: c.get("")),
    ("NaN command argument", lambda c: c.command("ZADD", "z", math.nan, "m")),
]


def check_code(err: BaseException, code: str) -> None:
    assert isinstance(err, nearcache.NearcacheError), repr(err)
    assert err.code == code, f"{err!r}: code {err.code}"
    assert err.code != DEFAULT_CODE


@pytest.mark.parametrize("call", [c for _, c in WRONG_TYPES], ids=[w for w, _ in WRONG_TYPES])
def test_wrong_types_raise_argument_type_error(cache: nearcache.Cache, call: Callable[[Any], Any]) -> None:
    with pytest.raises(nearcache.ArgumentTypeError) as info:
        call(cache)
    assert isinstance(info.value, builtins.TypeError)
    assert isinstance(info.value, nearcache.InvalidArgumentError)
    check_code(info.value, "NC_INVALID_ARGUMENT")


@pytest.mark.parametrize("call", [c for _, c in BAD_VALUES], ids=[w for w, _ in BAD_VALUES])
def test_refused_values_raise_invalid_argument(cache: nearcache.Cache, call: Callable[[Any], Any]) -> None:
    with pytest.raises(nearcache.InvalidArgumentError) as info:
        call(cache)
    assert not isinstance(info.value, builtins.TypeError)
    check_code(info.value, "NC_INVALID_ARGUMENT")


def test_ttl_messages_come_from_core(cache: nearcache.Cache) -> None:
    with pytest.raises(nearcache.InvalidArgumentError, match="ttl must be a non-negative number of seconds, got -5"):
        cache.expire("k", -5)


def test_float_command_arguments_are_written_as_core_writes_numbers(cache: nearcache.Cache, ns: str) -> None:
    assert cache.command("INCRBY", ns + "n", 3.0) == 3  # "3", not "3.0"
    assert cache.command("ZADD", ns + "z", math.inf, "top", -0.5, "low") == 2
    assert cache.command("ZSCORE", ns + "z", "top") in (b"inf", math.inf)
    cache.command("SET", ns + "big", 2**70)
    assert cache.command("GET", ns + "big") == str(2**70).encode()  # ints stay exact


def test_async_cache_uses_the_same_rules(url: str) -> None:
    async def main() -> None:
        async with nearcache.AsyncCache(url) as c:
            for _, call in WRONG_TYPES:
                with pytest.raises(nearcache.ArgumentTypeError) as info:
                    await call(c)
                check_code(info.value, "NC_INVALID_ARGUMENT")
            for _, call in BAD_VALUES:
                with pytest.raises(nearcache.InvalidArgumentError) as refused:
                    await call(c)
                check_code(refused.value, "NC_INVALID_ARGUMENT")

    asyncio.run(main())


def test_constructor_arguments(url: str, tmp_path: Any) -> None:
    for make in (nearcache.Cache, nearcache.AsyncCache):
        with pytest.raises(nearcache.ArgumentTypeError) as info:
            make(42)  # type: ignore[arg-type]
        check_code(info.value, "NC_INVALID_ARGUMENT")
        with pytest.raises(nearcache.ArgumentTypeError) as info:
            make(url, l1={"max_bytes": object()})  # bad option type
        check_code(info.value, "NC_INVALID_ARGUMENT")
        with pytest.raises(nearcache.ArgumentTypeError) as info:
            make.from_config(42)  # type: ignore[arg-type]
        check_code(info.value, "NC_INVALID_ARGUMENT")
        with pytest.raises(nearcache.ConfigError) as config_info:
            make(url, redis={"url": url})
        check_code(config_info.value, "NC_CONFIG")
        with pytest.raises(nearcache.ConfigError) as config_info:
            make(url, l1={"max_bytes": 2**70})
        check_code(config_info.value, "NC_CONFIG")
        with pytest.raises(nearcache.ConfigError) as config_info:
            make(url, l1={"max_bytes": math.nan})
        check_code(config_info.value, "NC_CONFIG")


def test_from_config_builds_the_public_class(tmp_path: Any, url: str) -> None:
    path = tmp_path / "nearcache.toml"
    path.write_text(f'[redis]\nurl = "{url}"\n')
    with nearcache.Cache.from_config(path) as c:
        assert type(c) is nearcache.Cache
        c.set_json("t:from_config", [1])
        assert c.get_json("t:from_config") == [1]
    a = nearcache.AsyncCache.from_config(str(path))
    assert type(a) is nearcache.AsyncCache
    asyncio.run(a.close())
    # The hand-over to __new__ does not leak into the next constructor.
    with pytest.raises(nearcache.ConfigError):
        nearcache.Cache(url, nonsense=1)


def test_nested_error_replies_have_their_code(cache: nearcache.Cache, ns: str) -> None:
    cache.set(ns + "s", b"x")
    reply = cache.command("EVAL", "return {1, redis.pcall('HGET', KEYS[1], 'f')}", 1, ns + "s")
    assert reply[0] == 1
    check_code(reply[1], "NC_REDIS")


def test_a_loader_returning_the_wrong_type(cache: nearcache.Cache, ns: str) -> None:
    with pytest.raises(nearcache.LoaderError) as info:
        cache.get_or_load(ns + "g", lambda: "a str")  # type: ignore[arg-type, return-value]
    check_code(info.value, "NC_LOADER")
    assert isinstance(info.value.__cause__, nearcache.ArgumentTypeError)
