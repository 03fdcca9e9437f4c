"""nearcache beside the usual Python choices, in one run on one server.

    python python/bench/bench.py [--keys 1000] [--value-size 100] [--ops 200000]
                                 [--url redis://...] [--json out.json]

Starts a throwaway redis-server with tests/redis-launcher (or uses --url, as
bench/report does to run every language against one server), writes one key set,
and measures, single-threaded unless stated:

1. a cache hit: nearcache L1 vs dict vs cachetools.TTLCache vs redis-py's
   client-side cache vs valkey-glide's client-side cache (sync client);
2. a round trip (no local cache): nearcache with L1 off vs redis-py GET
   (hiredis parser when installed) vs valkey-glide GET;
3. asyncio, 100 concurrent tasks reading the key set: nearcache AsyncCache
   (L1 on, and L1 off) vs redis.asyncio vs valkey-glide (async client);
4. an HGET hit: nearcache Cache.hget from L1 vs redis-py's client-side cache;
5. a 100-command mixed pipeline (50 HGETs of hash fields that repeat every
   round, 50 INCRs): nearcache with L1 off and on vs redis-py's pipeline
   (the same code drives both: redis-py's `pipeline(transaction=False)` shape).

redis-py refuses client-side caching on servers older than 7.4 (a version
gate in CacheProxyConnection); the server here is Redis 7.0, which has the
RESP3 tracking redis-py uses, so this script lowers that gate for the bench
only. Contenders that are not installed are skipped with a note.
Benchmarks, not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nearcache

LAUNCHER = Path(__file__).resolve().parents[2] / "tests" / "redis-launcher"


class Row:
    def __init__(self, section: str, name: str, ns_per_op: float, note: str = "") -> None:
        self.section, self.name, self.ns, self.note = section, name, ns_per_op, note


# glide's default request timeout (250 ms) fails on a loaded 2-core machine.
GLIDE_TIMEOUT_MS = 5000

rows: list[Row] = []
notes: list[str] = []


def start_server() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([str(LAUNCHER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    fields = dict(proc.stdout.readline().strip().split("=", 1) for _ in range(2))
    return proc, fields["url"]


def measure(section: str, name: str, run: Callable[[], float]) -> None:
    """Adds a row, or a note when the contender fails (the machine may be too
    loaded for a client's default timeout)."""
    try:
        rows.append(Row(section, name, run()))
    except Exception as e:  # noqa: BLE001 - reported in the notes
        notes.append(f"{name} failed: {type(e).__name__}: {e}")


def time_sync(get: Callable[[Any], Any], keys: list[Any], ops: int) -> float:
    """ns per call of get over `ops` calls cycling through keys (best of 3)."""
    best = float("inf")
    for _ in range(3):
        it = itertools.islice(itertools.cycle(keys), ops)
        start = time.perf_counter_ns()
        for k in it:
            get(k)
        best = min(best, (time.perf_counter_ns() - start) / ops)
    return best


def bench_hits(url: str, keys: list[str], value: bytes, ops: int) -> None:
    section = "hit"
    bkeys = [k.encode() for k in keys]
    d = {k: value for k in bkeys}
    rows.append(Row(section, "dict.get", time_sync(d.get, bkeys, ops)))
    try:
        import cachetools

        ttl: Any = cachetools.TTLCache(maxsize=len(keys) * 2, ttl=600)
        for k in bkeys:
            ttl[k] = value
        rows.append(Row(section, "cachetools.TTLCache.get", time_sync(ttl.get, bkeys, ops)))
    except ImportError:
        notes.append("cachetools not installed: skipped")

    cache = nearcache.Cache(url)
    for k in bkeys:
        assert cache.get(k) == value  # fill L1
    rows.append(Row(section, "nearcache Cache.get (bytes key)", time_sync(cache.get, bkeys, ops)))
    rows.append(Row(section, "nearcache Cache.get (str key)", time_sync(cache.get, keys, ops)))
    stats = cache.stats()
    cache.close()
    if stats["l1_misses"] > len(keys):
        notes.append(f"nearcache hit run saw {stats['l1_misses']} L1 misses (expected {len(keys)})")

    try:
        import redis
        from redis.cache import CacheConfig
        from redis.connection import CacheProxyConnection

        CacheProxyConnection.MIN_ALLOWED_VERSION = "7.0.0"  # the bench-only gate change
        notes.append("redis-py client-side cache: version gate lowered from 7.4.0 to 7.0.0 for this bench")
        r = redis.Redis.from_url(url, protocol=3, cache_config=CacheConfig(max_size=len(keys) * 2))
        for k in keys:
            assert r.get(k) == value
        measure(section, "redis-py client-side cache get", lambda: time_sync(r.get, keys, ops // 4))
        r.close()
    except ImportError:
        notes.append("redis-py not installed: skipped")
    except Exception as e:  # noqa: BLE001 - reported in the table notes
        notes.append(f"redis-py client-side cache failed: {type(e).__name__}: {e}")

    try:
        from glide_shared.cache import ClientSideCache
        from glide_shared.config import GlideClientConfiguration, NodeAddress
        from glide_sync import GlideClient

        host, port = url.removeprefix("redis://").split(":")
        config = GlideClientConfiguration(
            [NodeAddress(host, int(port))],
            request_timeout=GLIDE_TIMEOUT_MS,
            client_side_cache=ClientSideCache.create(max_cache_kb=64 * 1024, entry_ttl_ms=600_000),
        )
        g = GlideClient.create(config)
        for k in keys:
            assert g.get(k) == value
        measure(section, "valkey-glide (sync) client-side cache get", lambda: time_sync(g.get, keys, ops // 4))
        g.close()
    except ImportError:
        notes.append("valkey-glide-sync not installed: glide hit skipped")
    except Exception as e:  # noqa: BLE001
        notes.append(f"valkey-glide client-side cache failed: {type(e).__name__}: {e}")


HASHES = 50


def bench_hash_hits(url: str, ops: int) -> None:
    """HGET of one field per hash, every call an L1 (or client-side cache) hit."""
    section = "HGET hit"
    hashes = [f"bench:h:{i}" for i in range(HASHES)]
    cache = nearcache.Cache(url)
    for h in hashes:
        assert cache.hget(h, "f") is not None  # fill L1
    rows.append(Row(section, "nearcache Cache.hget", time_sync(lambda h: cache.hget(h, "f"), hashes, ops)))
    stats = cache.stats()
    cache.close()
    if stats["l1_read_misses"] > len(hashes):
        notes.append(f"nearcache hget run saw {stats['l1_read_misses']} L1 misses (expected {len(hashes)})")
    try:
        import redis
        from redis.cache import CacheConfig

        r = redis.Redis.from_url(url, protocol=3, cache_config=CacheConfig(max_size=len(hashes) * 2))
        for h in hashes:
            assert r.hget(h, "f") is not None
        measure(section, "redis-py client-side cache hget", lambda: time_sync(lambda h: r.hget(h, "f"), hashes, ops // 4))
        r.close()
    except ImportError:
        notes.append("redis-py not installed: HGET hit skipped")
    except Exception as e:  # noqa: BLE001 - reported in the table notes
        notes.append(f"redis-py client-side cache hget failed: {type(e).__name__}: {e}")


def time_pipeline(client: Any, rounds: int) -> float:
    """ns per 100-command pipeline: 50 HGETs (the same hash fields every round,
    so an L1 can answer them) and 50 INCRs of counters nobody reads."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter_ns()
        for r in range(rounds):
            pipe = client.pipeline(transaction=False)
            for i in range(HASHES):
                pipe.hget(f"bench:h:{i}", "f")
                pipe.incr(f"bench:ctr:{(r + i) % HASHES}")
            replies = pipe.execute()
            assert len(replies) == 2 * HASHES
        best = min(best, (time.perf_counter_ns() - start) / rounds)
    return best


def bench_pipelines(url: str, rounds: int) -> None:
    section = "pipeline, 100 mixed commands"
    with nearcache.Cache(url, l1={"invalidation": "off"}) as cache:
        rows.append(Row(section, "nearcache pipeline, L1 off", time_pipeline(cache, rounds)))
    with nearcache.Cache(url) as cache:
        rows.append(Row(section, "nearcache pipeline, L1 on (HGETs from L1)", time_pipeline(cache, rounds)))
    try:
        import redis

        r = redis.Redis.from_url(url)
        measure(section, "redis-py pipeline", lambda: time_pipeline(r, rounds))
        r.close()
    except ImportError:
        notes.append("redis-py not installed: pipeline skipped")


def bench_misses(url: str, keys: list[str], value: bytes, ops: int) -> None:
    section = "round trip"
    cache = nearcache.Cache(url, l1={"invalidation": "off"})
    assert cache.get(keys[0]) == value
    rows.append(Row(section, "nearcache Cache.get (L1 off)", time_sync(cache.get, keys, ops)))
    cache.close()
    try:
        import redis

        r = redis.Redis.from_url(url)
        assert r.get(keys[0]) == value
        parser = "hiredis" if redis.utils.HIREDIS_AVAILABLE else "python parser"
        measure(section, f"redis-py GET ({parser})", lambda: time_sync(r.get, keys, ops))
        r.close()
    except ImportError:
        notes.append("redis-py not installed: skipped")
    try:
        from glide_shared.config import GlideClientConfiguration, NodeAddress
        from glide_sync import GlideClient

        host, port = url.removeprefix("redis://").split(":")
        g = GlideClient.create(GlideClientConfiguration([NodeAddress(host, int(port))], request_timeout=GLIDE_TIMEOUT_MS))
        assert g.get(keys[0]) == value
        measure(section, "valkey-glide (sync) GET", lambda: time_sync(g.get, keys, ops))
        g.close()
    except ImportError:
        notes.append("valkey-glide-sync not installed: glide round trip skipped")


async def time_async(get: Callable[[Any], Awaitable[Any]], keys: list[Any], tasks: int, per_task: int) -> float:
    """ns per operation (wall time / total ops) with `tasks` concurrent tasks."""

    async def worker(offset: int) -> None:
        n = len(keys)
        for i in range(per_task):
            await get(keys[(offset + i) % n])

    best = float("inf")
    for _ in range(3):
        start = time.perf_counter_ns()
        await asyncio.gather(*(worker(t * 7) for t in range(tasks)))
        best = min(best, (time.perf_counter_ns() - start) / (tasks * per_task))
    return best


async def bench_async(url: str, keys: list[str], value: bytes, ops: int, tasks: int) -> None:
    section = f"asyncio, {tasks} tasks"
    per_task = max(1, ops // tasks)
    async with nearcache.AsyncCache(url) as c:
        for k in keys:
            assert await c.get(k) == value
        rows.append(Row(section, "nearcache AsyncCache.get (L1 hits)", await time_async(c.get, keys, tasks, per_task)))
    few = max(1, per_task // 10)
    async with nearcache.AsyncCache(url, l1={"invalidation": "off"}) as c:
        rows.append(Row(section, "nearcache AsyncCache.get (L1 off)", await time_async(c.get, keys, tasks, few)))
    try:
        import redis.asyncio as aredis

        r = aredis.Redis.from_url(url)
        assert await r.get(keys[0]) == value
        rows.append(Row(section, "redis.asyncio GET", await time_async(r.get, keys, tasks, few)))
        await r.aclose()
    except ImportError:
        notes.append("redis-py not installed: skipped")
    try:
        from glide import GlideClient as AsyncGlide
        from glide_shared.cache import ClientSideCache
        from glide_shared.config import GlideClientConfiguration, NodeAddress

        host, port = url.removeprefix("redis://").split(":")
        g = await AsyncGlide.create(GlideClientConfiguration([NodeAddress(host, int(port))], request_timeout=GLIDE_TIMEOUT_MS))
        try:
            rows.append(Row(section, "valkey-glide (async) GET", await time_async(g.get, keys, tasks, few)))
        except Exception as e:  # noqa: BLE001
            notes.append(f"valkey-glide (async) GET failed: {type(e).__name__}: {e}")
        await g.close()
        csc = ClientSideCache.create(max_cache_kb=64 * 1024, entry_ttl_ms=600_000)
        g = await AsyncGlide.create(GlideClientConfiguration([NodeAddress(host, int(port))], request_timeout=GLIDE_TIMEOUT_MS, client_side_cache=csc))
        for k in keys:
            await g.get(k)
        rows.append(
            Row(section, "valkey-glide (async) client-side cache get", await time_async(g.get, keys, tasks, few))
        )
        await g.close()
    except ImportError:
        notes.append("valkey-glide not installed: glide asyncio skipped")
    except Exception as e:  # noqa: BLE001
        notes.append(f"valkey-glide asyncio failed: {type(e).__name__}: {e}")


def ns_of(name_start: str) -> float | None:
    for r in rows:
        if r.name.startswith(name_start):
            return r.ns
    return None


def report() -> None:
    print(f"\nPython {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, nearcache {nearcache.__version__}")
    width = max(len(r.name) for r in rows) + 2
    section = None
    for r in rows:
        if r.section != section:
            section = r.section
            base = next(x.ns for x in rows if x.section == section and x.name.startswith("nearcache"))
            print(f"\n## {section}\n{'':{width}}{'ns/op':>12}{'ops/s':>14}{'x nearcache':>14}")
        print(f"{r.name:<{width}}{r.ns:>12,.0f}{1e9 / r.ns:>14,.0f}{r.ns / base:>14.2f}")
    print("\n(x nearcache: this row's time per op divided by the first nearcache row of its section)")
    hit, ttl, csc = ns_of("nearcache Cache.get (bytes"), ns_of("cachetools"), ns_of("redis-py client-side")
    aio, raio = ns_of("nearcache AsyncCache.get (L1 hits)"), ns_of("redis.asyncio")
    glide = ns_of("valkey-glide (async) GET")
    hget, csc_hget = ns_of("nearcache Cache.hget"), ns_of("redis-py client-side cache hget")
    pipe_off, pipe_on, rpipe = ns_of("nearcache pipeline, L1 off"), ns_of("nearcache pipeline, L1 on"), ns_of("redis-py pipeline")
    def target(label: str, ratio: str, met: bool) -> None:
        print(f"  {label + ':':<40}{ratio}  {'met' if met else 'NOT met'}")

    print("\nTargets (issue 5):")
    if hit and ttl:
        target("L1 hit <= 0.5x TTLCache hit", f"{hit / ttl:.2f}x", hit <= 0.5 * ttl)
    if hit and csc:
        target("L1 hit <= 0.1x redis-py CSC hit", f"{hit / csc:.3f}x", hit <= 0.1 * csc)
    if aio and raio:
        target("AsyncCache >= 3x redis.asyncio ops/s", f"{raio / aio:.1f}x", raio >= 3 * aio)
    if aio and glide:
        target("AsyncCache >= 1x glide async ops/s", f"{glide / aio:.1f}x", glide >= aio)
    print("Targets (issue 15):")
    if hget and csc_hget:
        target("HGET hit >= 100x redis-py CSC HGET hit", f"{csc_hget / hget:.0f}x", csc_hget >= 100 * hget)
    if pipe_off and rpipe:
        target("pipeline, L1 off >= 1x redis-py", f"{rpipe / pipe_off:.2f}x", rpipe >= pipe_off)
    if pipe_on and rpipe:
        target("pipeline, L1 on faster than redis-py", f"{rpipe / pipe_on:.2f}x", rpipe > pipe_on)
    for n in notes:
        print(f"note: {n}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--value-size", type=int, default=100)
    parser.add_argument("--ops", type=int, default=200_000, help="operations per hit measurement")
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--url", help="use this server instead of launching one")
    parser.add_argument("--json", help="also write the rows and notes to this file")
    args = parser.parse_args()
    proc, url = (None, args.url) if args.url else start_server()
    try:
        keys = [f"bench:{i}" for i in range(args.keys)]
        value = os.urandom(args.value_size // 2).hex().encode()[: args.value_size]
        with nearcache.Cache(url) as c:
            c.set_many({k: value for k in keys})
            for i in range(HASHES):
                c.hset(f"bench:h:{i}", mapping={"f": value, "g": b"other"})
        bench_hits(url, keys, value, args.ops)
        bench_misses(url, keys, value, max(1000, args.ops // 20))
        asyncio.run(bench_async(url, keys, value, args.ops, args.tasks))
        bench_hash_hits(url, args.ops)
        bench_pipelines(url, max(50, args.ops // 1000))
    finally:
        if proc is not None:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=10)
    report()
    if args.json:
        doc = {
            "python": platform.python_version(),
            "nearcache": nearcache.__version__,
            "rows": [{"section": r.section, "name": r.name, "ns_per_op": r.ns} for r in rows],
            "notes": notes,
        }
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
