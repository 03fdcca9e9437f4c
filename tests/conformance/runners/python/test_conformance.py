"""The conformance scenarios (tests/conformance/scenarios/*.json) through the
Python binding: one pytest case per scenario file, against a redis-server from
tests/redis-launcher. This file translates steps into calls; every expected
value lives in the scenario files.

The configs in tests/conformance/configs/ are checked here too: the effective
config JSON, or the error, must match the .expected files byte for byte.
"""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nearcache
import nearcache._native

ROOT = Path(__file__).resolve().parents[4]
SCENARIOS = sorted((ROOT / "tests" / "conformance" / "scenarios").glob("*.json"))
CONFIGS = ROOT / "tests" / "conformance" / "configs"
LAUNCHER = ROOT / "tests" / "redis-launcher"


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    proc = subprocess.Popen([str(LAUNCHER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdin is not None
    fields = dict(proc.stdout.readline().strip().partition("=")[::2] for _ in range(2))
    yield fields["url"]
    proc.stdin.close()  # EOF: the launcher stops the server
    proc.wait(timeout=10)


MISS = object()  # get_local's default: L1 cannot answer


def data(v: Any) -> Any:
    """A scenario byte string: "utf-8 text", {"hex": ...}, {"repeat": s, "times": n}; or a wrong type."""
    if v is None or isinstance(v, str):
        return None if v is None else v.encode()
    if "hex" in v:
        return bytes.fromhex(v["hex"])
    if "repeat" in v:
        return v["repeat"].encode() * v["times"]
    if "wrong_type" in v:
        return 12345  # a number where bytes are expected
    raise ValueError(f"unknown data {v!r}")


def has_wrong_type(v: Any) -> bool:
    """Whether a step passes {"wrong_type": ...} anywhere in its arguments."""
    if isinstance(v, dict):
        return "wrong_type" in v or any(has_wrong_type(x) for x in v.values())
    return isinstance(v, list) and any(has_wrong_type(x) for x in v)


def ttl_ms(v: Any) -> Any:
    """A scenario TTL in ms: a JSON number, or {"number": "NaN" | "Infinity" | ...}."""
    return float(v["number"]) if isinstance(v, dict) and "number" in v else v


def ttl_arg(step: dict[str, Any]) -> Any:
    """The write TTL in Python's unit (seconds); absent or 0 is none."""
    ms = ttl_ms(step.get("ttl_ms"))
    return None if ms is None or ms == 0 else ms / 1000


def panic_for_tests(message: str) -> None:
    """The native module's test-only hook (the `test-hooks` build). A build
    without it fails the step: the hook is what the step tests."""
    hook = getattr(nearcache._native, "_panic_for_tests", None)
    if hook is None:
        raise Failed("nearcache._native has no _panic_for_tests: build the module with the test-hooks feature")
    hook(message)


def reply_matches(actual: Any, expected: Any) -> bool:
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(
            reply_matches(a, e) for a, e in zip(actual, expected)
        )
    if expected is None or isinstance(expected, int):
        return bool(actual == expected) and type(actual) is not bool
    want = data(expected)
    return bool((actual.encode() if isinstance(actual, str) else actual) == want)


def same(actual: Any, expected: Any) -> bool:
    """A typed result against a scenario value: JSON null, booleans (redis-py's
    0 / 1 ints count as false / true, as redis-py returns them for sismember,
    getbit, exists), numbers (int or float), byte strings (bytes or str), lists
    (Python lists, tuples)."""
    if expected is None:
        return actual is None
    if isinstance(expected, bool):
        return (isinstance(actual, bool) or actual in (0, 1)) and bool(actual) == expected
    if isinstance(expected, (int, float)):
        return isinstance(actual, (int, float)) and not isinstance(actual, bool) and actual == expected
    if isinstance(expected, list):
        return (
            isinstance(actual, (list, tuple))
            and len(actual) == len(expected)
            and all(same(a, e) for a, e in zip(actual, expected))
        )
    want = data(expected)
    return bool((actual.encode() if isinstance(actual, str) else actual) == want)


def score(v: Any) -> Any:
    """A scenario score: a JSON number, or {"number": "NaN" | ...}."""
    return float(v["number"]) if isinstance(v, dict) and "number" in v else v


def arg(v: Any) -> Any:
    """A scenario argument: a number as is, else a byte string."""
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else data(v)


# Typed ops whose results have no order (runners sort them).
UNORDERED = {"hkeys", "hvals", "smembers"}

# Typed reads and writes: op -> how the step's fields become the call's
# arguments (the method has the op's name).
TYPED: dict[str, Any] = {
    "hexists": lambda s: (data(s["key"]), data(s["field"])),
    "hlen": lambda s: (data(s["key"]),),
    "hkeys": lambda s: (data(s["key"]),),
    "hvals": lambda s: (data(s["key"]),),
    "smembers": lambda s: (data(s["key"]),),
    "sismember": lambda s: (data(s["key"]), data(s["member"])),
    "smismember": lambda s: (data(s["key"]), [data(m) for m in s["members"]]),
    "scard": lambda s: (data(s["key"]),),
    "zscore": lambda s: (data(s["key"]), data(s["member"])),
    "zmscore": lambda s: (data(s["key"]), [data(m) for m in s["members"]]),
    "zrank": lambda s: (data(s["key"]), data(s["member"])),
    "zrevrank": lambda s: (data(s["key"]), data(s["member"])),
    "zcard": lambda s: (data(s["key"]),),
    "zcount": lambda s: (data(s["key"]), arg(s["min"]), arg(s["max"])),
    "lrange": lambda s: (data(s["key"]), s["start"], s["stop"]),
    "lindex": lambda s: (data(s["key"]), s["index"]),
    "llen": lambda s: (data(s["key"]),),
    "strlen": lambda s: (data(s["key"]),),
    "type": lambda s: (data(s["key"]),),
    "getbit": lambda s: (data(s["key"]), s["offset"]),
    "bitcount": lambda s: (data(s["key"]),),
    "exists": lambda s: (data(s["key"]),),
    "incr": lambda s: (data(s["key"]),),
    "decr": lambda s: (data(s["key"]),),
    "incrby": lambda s: (data(s["key"]), s["by"]),
    "decrby": lambda s: (data(s["key"]), s["by"]),
    "hincrby": lambda s: (data(s["key"]), data(s["field"]), s["by"]),
    "sadd": lambda s: (data(s["key"]), *[data(m) for m in s["members"]]),
    "srem": lambda s: (data(s["key"]), *[data(m) for m in s["members"]]),
    "zrem": lambda s: (data(s["key"]), *[data(m) for m in s["members"]]),
    "zadd": lambda s: (data(s["key"]), [(data(m), score(v)) for m, v in s["members"]]),
    "zincrby": lambda s: (data(s["key"]), s["by"], data(s["member"])),
    "lpush": lambda s: (data(s["key"]), *[data(v) for v in s["values"]]),
    "rpush": lambda s: (data(s["key"]), *[data(v) for v in s["values"]]),
    "lpop": lambda s: (data(s["key"]),),
    "rpop": lambda s: (data(s["key"]),),
    "ltrim": lambda s: (data(s["key"]), s["start"], s["stop"]),
    "persist": lambda s: (data(s["key"]),),
    "read": lambda s: tuple(data(a) for a in s["args"]),
}


def matches_in_place(actual: Any, expected: Any) -> bool:
    """One pipeline result: an error in its place ({"error": code,
    "message_contains": ...}) or a raw reply."""
    if isinstance(expected, dict) and "error" in expected:
        return (
            isinstance(actual, nearcache.NearcacheError)
            and actual.code == expected["error"]
            and expected.get("message_contains", "") in str(actual)
        )
    return reply_matches(actual, expected)


class Failed(AssertionError):
    pass


# AsyncCache methods that are synchronous (no awaitable).
ASYNC_SYNC_METHODS = {"get_local", "invalidate_local", "stats", "close"}


class AsyncAdapter:
    """Runs an AsyncCache's calls to completion on one event loop, so the
    same steps drive both Python classes."""

    def __init__(self, loop: asyncio.AbstractEventLoop, cache: nearcache.AsyncCache) -> None:
        self.loop = loop
        self.cache = cache

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.cache, name)
        if name in ASYNC_SYNC_METHODS:
            return method

        async def scan(*args: Any) -> list[bytes]:
            return [k async for k in method(*args)]

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await method(*args, **kwargs)

        return lambda *a, **k: self.loop.run_until_complete(scan(*a) if name == "scan" else call(*a, **k))


def check(cond: bool, what: str) -> None:
    if not cond:
        raise Failed(what)


class Runner:
    def __init__(self, url: str, loop: asyncio.AbstractEventLoop | None) -> None:
        self.url = url
        self.loop = loop  # set: drive nearcache.AsyncCache instead of Cache
        self.caches: dict[str, Any] = {}
        self.loader_called = False

    def open(self, step: dict[str, Any]) -> None:
        config = json.loads(json.dumps(step.get("config", {})))
        config.setdefault("redis", {}).setdefault("url", self.url)
        name = step.get("name", "a")
        if self.loop is None:
            self.caches[name] = nearcache.Cache(**config)
        else:
            self.caches[name] = AsyncAdapter(self.loop, nearcache.AsyncCache(**config))

    def run(self, step: dict[str, Any]) -> None:
        op = step["op"]
        if op == "eventually":
            deadline = time.monotonic() + step["within_ms"] / 1000
            while True:
                try:
                    self.run(step["step"])
                    return
                except Failed:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)
        self.loader_called = False
        try:
            result = self.call(op, step)
        except nearcache.NearcacheError as e:
            check("error" in step, f"unexpected {e.code}: {e}")
            if has_wrong_type(step):
                # ArgumentTypeError: an InvalidArgumentError that is also a TypeError.
                check(isinstance(e, TypeError), f"a wrong type raised {type(e).__name__}, not a TypeError: {e}")
            self.check_error(step, e.code, str(e))
            return
        except TypeError as e:
            # Every error nearcache raises carries a code, wrong types included.
            raise Failed(f"{type(e).__name__} without a code (not a NearcacheError): {e}") from None
        check("error" not in step, f"expected {step.get('error')}, got {result!r}")
        self.check_result(op, step, result)

    def check_error(self, step: dict[str, Any], code: str, message: str) -> None:
        check(code == step["error"], f"expected {step['error']}, got {code}: {message}")
        if "message_is" in step:
            check(message == step["message_is"], f"message {message!r}")
        if "message_prefix" in step:
            check(message.startswith(step["message_prefix"]), f"message {message!r}")
        if "message_contains" in step:
            check(step["message_contains"] in message, f"message {message!r}")
        if "message_excludes" in step:
            check(step["message_excludes"] not in message, f"message {message!r}")
        if "expect_loader_called" in step:
            check(self.loader_called == step["expect_loader_called"], f"loader called: {self.loader_called}")

    def call(self, op: str, s: dict[str, Any]) -> Any:
        if op == "open":
            return self.open(s)
        if op == "panic":
            return panic_for_tests(s["message"])
        c = self.caches[s.get("cache", "a")]
        if op == "get":
            return c.get(data(s["key"]))
        if op == "get_local":
            return c.get_local(data(s["key"]), MISS)
        if op == "get_many":
            return c.get_many([data(k) for k in s["keys"]])
        if op == "set":
            return c.set(data(s["key"]), data(s["value"]), ttl=ttl_arg(s), nx=s.get("nx", False), xx=s.get("xx", False))
        if op == "set_many":
            return c.set_many([(data(k), data(v)) for k, v in s["items"]], ttl=ttl_arg(s))
        if op == "delete":
            return c.delete(data(s["key"]))
        if op == "expire":
            return c.expire(data(s["key"]), ttl_ms(s["ttl_ms"]) / 1000)
        if op == "ttl":
            return c.ttl(data(s["key"]))
        if op == "hget":
            return c.hget(data(s["key"]), data(s["field"]))
        if op == "hmget":
            return c.hmget(data(s["key"]), [data(f) for f in s["fields"]])
        if op == "hgetall":
            return c.hgetall(data(s["key"]))
        if op == "hset":
            return c.hset(data(s["key"]), [(data(f), data(v)) for f, v in s["fields"]])
        if op == "hdel":
            return c.hdel(data(s["key"]), *[data(f) for f in s["fields"]])
        if op == "get_or_load":

            def loader() -> bytes:
                self.loader_called = True
                if isinstance(s["loader"], dict) and s["loader"].get("fail"):
                    raise RuntimeError("the scenario's loader fails")
                return bytes(data(s["loader"]))

            return c.get_or_load(data(s["key"]), loader, ttl=ttl_arg(s))
        if op == "invalidate_local":
            return c.invalidate_local(*[data(k) for k in s["keys"]])
        if op == "scan":
            return list(c.scan(data(s["pattern"])))
        if op == "delete_prefix":
            return c.delete_prefix(data(s["prefix"]))
        if op == "command":
            return c.command(*[data(a) for a in s["args"]])
        if op == "stats":
            return c.stats()
        if op == "close":
            return c.close()
        if op == "zrange":
            return c.zrange(data(s["key"]), s["start"], s["stop"], withscores=s.get("withscores", False))
        if op in TYPED:
            return getattr(c, op)(*TYPED[op](s))
        if op in ("pipeline", "watch_exec", "script"):
            return self.batch(op, s, c)
        raise ValueError(f"unknown op {op!r}")

    def batch(self, op: str, s: dict[str, Any], c: Any) -> Any:
        """Pipelines, watched transactions and scripts, on either class."""
        cmd = lambda line: [data(a) for a in line]  # noqa: E731
        if self.loop is None:
            if op == "pipeline":
                with c.pipeline(transaction=s.get("transaction", False)) as p:
                    for line in s["commands"]:
                        p.command(*cmd(line))
                    return p.execute(raise_on_error=False)
            if op == "watch_exec":
                with c.pipeline(transaction=False) as p:
                    if s["watch"]:
                        p.watch(*[data(k) for k in s["watch"]])
                    for line in s.get("between", []):
                        c.command(*cmd(line))
                    p.multi()
                    for line in s["queue"]:
                        p.command(*cmd(line))
                    return p.execute(raise_on_error=False)
            if s.get("flush_scripts_first"):
                c.command("SCRIPT", "FLUSH")
            return c.register_script(data(s["lua"]))(keys=[data(k) for k in s["keys"]], args=cmd(s["args"]))
        cache = c.cache

        async def run() -> Any:
            if op == "pipeline":
                async with cache.pipeline(transaction=s.get("transaction", False)) as p:
                    for line in s["commands"]:
                        p.command(*cmd(line))
                    return await p.execute(raise_on_error=False)
            if op == "watch_exec":
                async with cache.pipeline(transaction=False) as p:
                    if s["watch"]:
                        await p.watch(*[data(k) for k in s["watch"]])
                    for line in s.get("between", []):
                        await cache.command(*cmd(line))
                    p.multi()
                    for line in s["queue"]:
                        p.command(*cmd(line))
                    return await p.execute(raise_on_error=False)
            if s.get("flush_scripts_first"):
                await cache.command("SCRIPT", "FLUSH")
            script = cache.register_script(data(s["lua"]))
            return await script(keys=[data(k) for k in s["keys"]], args=cmd(s["args"]))

        assert self.loop is not None
        return self.loop.run_until_complete(run())

    def check_result(self, op: str, s: dict[str, Any], got: Any) -> None:
        if "expect_loader_called" in s:
            check(self.loader_called == s["expect_loader_called"], f"loader called: {self.loader_called}")
        if op in ("open", "set_many", "invalidate_local", "close", "panic"):
            return
        if op == "get_local" and isinstance(s["expect"], dict) and s["expect"].get("miss"):
            check(got is MISS, f"expected an L1 miss, got {got!r}")
        elif op in ("get", "get_local", "hget", "get_or_load"):
            check(got == data(s["expect"]), f"expected {s['expect']!r}, got {got!r}")
        elif op in ("get_many", "hmget"):
            check(got == [data(e) for e in s["expect"]], f"expected {s['expect']!r}, got {got!r}")
        elif op in ("set", "delete", "expire"):
            check(got is s["expect"], f"expected {s['expect']!r}, got {got!r}")
        elif op in ("hset", "hdel", "delete_prefix"):
            check(got == s["expect"], f"expected {s['expect']!r}, got {got!r}")
        elif op == "ttl":
            e = s["expect"]
            if e == "missing":
                check(got is None, f"expected a missing key, got {got!r}")
            elif e == "persistent":
                check(got == math.inf, f"expected no expiry, got {got!r}")
            else:
                check(got is not None and e["min_ms"] <= got * 1000 <= e["max_ms"], f"expected {e}, got {got!r} s")
        elif op == "hgetall":
            check(sorted(got.items()) == [(data(f), data(v)) for f, v in s["expect"]], f"got {got!r}")
        elif op == "scan":
            check(sorted(set(got)) == [data(k) for k in s["expect"]], f"expected {s['expect']!r}, got {got!r}")
        elif op == "command":
            if "expect" in s:
                check(reply_matches(got, s["expect"]), f"expected {s['expect']!r}, got {got!r}")
            if "expect_prefix" in s:
                check(isinstance(got, bytes) and got.startswith(data(s["expect_prefix"])), f"got {got!r}")
            if "expect_below" in s:
                check(isinstance(got, int) and got < s["expect_below"], f"got {got!r}")
        elif op in ("pipeline", "watch_exec"):
            e = s["expect"]
            check(
                isinstance(got, list) and len(got) == len(e) and all(matches_in_place(a, x) for a, x in zip(got, e)),
                f"expected {e!r}, got {got!r}",
            )
        elif op in ("script", "read"):
            check(reply_matches(got, s["expect"]), f"expected {s['expect']!r}, got {got!r}")
        elif op in TYPED or op == "zrange":
            e = s["expect"]
            if op in UNORDERED:
                got = sorted(got)
            check(same(got, e), f"expected {e!r}, got {got!r}")
        elif op == "stats":
            for name, want in s["expect"].items():
                check(got[name] == want, f"stats.{name}: expected {want}, got {got[name]}")
        else:
            raise ValueError(f"unknown op {op!r}")


@pytest.mark.parametrize("flavour", ["Cache", "AsyncCache"])
@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(path: Path, flavour: str, url: str) -> None:
    scenario = json.loads(path.read_text())
    admin = nearcache.Cache(url, l1={"invalidation": "off"})
    admin.command("FLUSHDB")
    admin.close()
    loop = asyncio.new_event_loop() if flavour == "AsyncCache" else None
    runner = Runner(url, loop)
    try:
        for i, step in enumerate(scenario["steps"]):
            try:
                runner.run(step)
            except Failed as e:
                raise Failed(f"{path.name} step {i} {json.dumps(step)[:300]}: {e}") from None
    finally:
        for c in runner.caches.values():
            c.close()
        if loop is not None:
            loop.close()


CONFIG_FILES = sorted(p for p in CONFIGS.iterdir() if p.suffix in (".toml", ".json") and ".expected" not in p.name)


@pytest.mark.parametrize("path", CONFIG_FILES, ids=[p.name for p in CONFIG_FILES])
def test_config_file(path: Path) -> None:
    """Every shared config file: the effective config JSON, or the error, byte for byte."""
    expected_json = path.with_name(path.stem + ".expected.json")
    expected_error = path.with_name(path.stem + ".expected-error.txt")
    assert expected_json.exists() != expected_error.exists(), f"{path.name}: one .expected file needed"
    if expected_json.exists():
        c = nearcache.Cache.from_config(path)
        try:
            assert c.config_json() == expected_json.read_text().rstrip("\n")
        finally:
            c.close()
    else:
        with pytest.raises(nearcache.ConfigError) as info:
            nearcache.Cache.from_config(path)
        assert info.value.code == "NC_CONFIG"
        assert str(info.value) == expected_error.read_text().rstrip("\n")
