"""nearcache.otel: stats() as OpenTelemetry instruments, read back through
the SDK's InMemoryMetricReader."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import Gauge, InMemoryMetricReader, Metric, Sum

import nearcache
from conftest import wait_until
from nearcache.otel import instrument


def collect(reader: InMemoryMetricReader) -> dict[str, Metric]:
    data = reader.get_metrics_data()
    if data is None:
        return {}
    found: dict[str, Metric] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            assert scope.scope.name == "nearcache" and scope.scope.version == nearcache.__version__
            for metric in scope.metrics:
                found[metric.name] = metric
    return found


def points(metric: Metric) -> dict[tuple[tuple[str, Any], ...], float]:
    """Value by attributes (without the caller's own attribute)."""
    assert isinstance(metric.data, (Sum, Gauge))
    return {
        tuple(sorted((k, v) for k, v in (p.attributes or {}).items() if k != "nearcache.cache.name")): p.value
        for p in metric.data.data_points
    }


def value(metric: Metric) -> float:
    (only,) = points(metric).values()
    return only


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


def test_stats_become_instruments(url: str, raw: redis.Redis, ns: str, reader: InMemoryMetricReader) -> None:
    provider = MeterProvider(metric_readers=[reader])
    cache = nearcache.Cache(url, l1={"max_bytes": "1MiB"})
    try:
        instrument(cache, provider, attributes={"nearcache.cache.name": "test"})
        cache.set(ns + "k", b"v")
        assert cache.get(ns + "k") == b"v"  # miss, fill
        assert cache.get(ns + "k") == b"v"  # hit
        assert cache.get(ns + "absent") is None  # miss
        assert cache.get(ns + "absent") is None  # negative hit
        raw.set(ns + "k", b"w")  # invalidation from the server
        wait_until(lambda: cache.get_local(ns + "k", "gone") == "gone", "the invalidation")
        cache.invalidate_local_all()  # a manual flush
        with pytest.raises(nearcache.RedisError):
            cache.command("INCR", ns + "k")  # "w" is not an integer
        assert cache.get(ns + "k") == b"w"
        stats = cache.stats()
        m = collect(reader)

        for name, key in [
            ("nearcache.l1.hits", "l1_hits"),
            ("nearcache.l1.negative_hits", "l1_negative_hits"),
            ("nearcache.l1.misses", "l1_misses"),
            ("nearcache.l1.fills", "fills"),
            ("nearcache.l1.invalidations", "invalidations"),
            ("nearcache.l1.evictions", "evictions"),
        ]:
            data = m[name].data
            assert isinstance(data, Sum) and data.is_monotonic, name
            assert value(m[name]) == stats[key], name
        assert value(m["nearcache.l1.hits"]) >= 1 and value(m["nearcache.l1.negative_hits"]) >= 1
        assert value(m["nearcache.l1.invalidations"]) >= 1
        for name, key, unit in [
            ("nearcache.l1.bytes", "l1_bytes", "By"),
            ("nearcache.l1.max_bytes", "l1_max_bytes", "By"),
            ("nearcache.l1.entries", "l1_entries", "{entry}"),
        ]:
            data = m[name].data
            assert isinstance(data, Sum) and not data.is_monotonic and m[name].unit == unit, name
            assert value(m[name]) == stats[key], name
        assert value(m["nearcache.l1.max_bytes"]) == 1 << 20
        assert value(m["nearcache.l1.bytes"]) > 0

        flushes = points(m["nearcache.l1.flushes"])
        assert set(flushes) == {(("cause", c),) for c in ("disconnect", "nil", "health", "manual", "topology", "partial")}
        assert flushes[(("cause", "manual"),)] == stats["flushes"]["manual"] >= 1
        errors = points(m["nearcache.errors"])
        assert errors[(("error.type", "NC_REDIS"),)] == stats["errors"]["NC_REDIS"] >= 1
        commands = points(m["nearcache.commands"])
        assert commands[(("db.operation.name", "get"),)] == stats["latency"]["get"]["count"]
        durations = m["nearcache.command.duration"]
        assert isinstance(durations.data, Gauge) and durations.unit == "s"
        by_quantile = points(durations)
        get_max = by_quantile[(("db.operation.name", "get"), ("quantile", "1"))]
        assert get_max == pytest.approx(stats["latency"]["get"]["max_us"] / 1e6)
        assert 0 < by_quantile[(("db.operation.name", "get"), ("quantile", "0.5"))] <= get_max
        # The caller's attributes are on every point.
        for metric in m.values():
            assert isinstance(metric.data, (Sum, Gauge))
            assert all((p.attributes or {}).get("nearcache.cache.name") == "test" for p in metric.data.data_points)
    finally:
        cache.close()
    # A closed cache keeps reporting its final counters.
    final = cache.stats()
    assert value(collect(reader)["nearcache.l1.hits"]) == final["l1_hits"]
    provider.shutdown()


def test_stop_ends_the_reporting(url: str, reader: InMemoryMetricReader) -> None:
    provider = MeterProvider(metric_readers=[reader])
    with nearcache.Cache(url) as cache:
        handle = instrument(cache, provider)
        assert len(handle.instruments) == 16
        cache.get("otel:none")
        assert value(collect(reader)["nearcache.l1.misses"]) == 1
        handle.stop()
        cache.get("otel:none2")  # a miss the stopped instruments no longer see
        assert cache.stats()["l1_misses"] == 2
        stale = collect(reader).get("nearcache.l1.misses")
        assert stale is None or all(p.value == 1 for p in stale.data.data_points)  # type: ignore[union-attr]
    provider.shutdown()


def test_async_cache_and_global_provider(url: str, reader: InMemoryMetricReader) -> None:
    from opentelemetry import metrics

    provider = MeterProvider(metric_readers=[reader])
    metrics.set_meter_provider(provider)
    cache = nearcache.AsyncCache(url)
    try:
        instrument(cache)  # the global provider
        assert value(collect(reader)["nearcache.l1.hits"]) == 0
    finally:
        asyncio.run(cache.close())
        provider.shutdown()


def test_optional_dependencies_stay_optional() -> None:
    # `import nearcache` pulls in neither OpenTelemetry nor Django.
    import subprocess
    import sys

    check = "import nearcache, sys; print(sorted(m for m in ('opentelemetry', 'django') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_node_publishes_the_same_instruments(url: str) -> None:
    # One table in every language: node/otel.js names the same instruments,
    # with the same units, as this module.
    import re
    from pathlib import Path

    source = (Path(__file__).resolve().parents[2] / "node" / "otel.js").read_text(encoding="utf-8")
    node = set(re.findall(r"\[\s*'(nearcache\.[a-z0-9_.]+)',\s*'([^']+)'", source))
    node |= set(re.findall(r"'(nearcache\.[a-z0-9_.]+)', \{\s*unit: '([^']+)'", source))
    provider = MeterProvider()
    with nearcache.Cache(url) as cache:
        made = instrument(cache, provider).instruments
    python = {(getattr(i, "name"), getattr(i, "unit")) for i in made}  # the SDK's instruments have both
    provider.shutdown()
    assert len(python) == len(made) == 16
    assert node == python


def test_a_missing_api_package_says_what_to_install() -> None:
    import subprocess
    import sys

    check = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "try:\n    import nearcache.otel\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True).stdout
    assert "pip install 'nearcache[otel]'" in out
