"""OpenTelemetry metrics for a cache: ``instrument(cache)``.

Publishes :meth:`nearcache.Cache.stats` as observable instruments through the
``opentelemetry-api`` package only (install the ``otel`` extra; the SDK, an
exporter and the meter provider are the application's). Each collection reads
the stats once per instrument; nothing is recorded between collections, so an
idle exporter costs nothing.

The names, units and attributes are the same in every nearcache language (the
README's OpenTelemetry table). Core's stats have latency summaries, not
histogram buckets, and the OpenTelemetry API has no asynchronous histogram, so
command latency is published as a gauge ``nearcache.command.duration``
(seconds, since the cache was created) with a ``quantile`` attribute
(``0.5``, ``0.99``, ``0.999`` and ``1`` for the maximum), beside the counter
``nearcache.commands``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any, Callable, Optional, Union

try:
    from opentelemetry import metrics
    from opentelemetry.metrics import CallbackOptions, Instrument, MeterProvider, Observation
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(f"nearcache.otel needs opentelemetry-api: pip install 'nearcache[otel]' ({e})") from e

from nearcache._native import AsyncCache, Cache, __version__
from nearcache.errors import ClosedError

__all__ = ["instrument", "Instrumentation"]

_Attributes = Mapping[str, Union[str, bool, int, float]]

# (instrument name, unit, description, stats() key). Counters only grow;
# the up-down counters are levels.
_COUNTERS = (
    ("nearcache.l1.hits", "{hit}", "L1 lookups answered with a value.", "l1_hits"),
    ("nearcache.l1.negative_hits", "{hit}", "L1 lookups answered with a cached absence.", "l1_negative_hits"),
    ("nearcache.l1.misses", "{miss}", "L1 lookups that went to Redis.", "l1_misses"),
    ("nearcache.l1.fills", "{entry}", "Values inserted into L1 after a Redis read.", "fills"),
    (
        "nearcache.l1.fills_discarded",
        "{entry}",
        "Fills dropped because the key was invalidated while the read was in flight.",
        "fills_discarded",
    ),
    ("nearcache.l1.invalidations", "{key}", "Keys invalidated in L1.", "invalidations"),
    ("nearcache.l1.evictions", "{entry}", "L1 entries evicted for space.", "evictions"),
    ("nearcache.reconnects", "{connection}", "Redis connections re-established after a loss.", "reconnects"),
    ("nearcache.stale_served", "{read}", "Reads answered with stale data under l1.stale_if_error.", "stale_served"),
)
_LEVELS = (
    ("nearcache.l1.entries", "{entry}", "Entries in L1.", "l1_entries"),
    ("nearcache.l1.bytes", "By", "Bytes charged to L1 (key, decompressed value, per-entry overhead).", "l1_bytes"),
    ("nearcache.l1.max_bytes", "By", "The L1 bound, l1.max_bytes (0 when L1 is off).", "l1_max_bytes"),
)
_FLUSH_CAUSES = ("disconnect", "nil", "health", "manual", "topology", "partial")
_QUANTILES = (("0.5", "p50_us"), ("0.99", "p99_us"), ("0.999", "p999_us"), ("1", "max_us"))


class Instrumentation:
    """What :func:`instrument` registered. :meth:`stop` ends the reporting
    (the OpenTelemetry API cannot unregister an instrument, so it then
    reports nothing) and drops the reference to the cache."""

    def __init__(self, cache: Union[Cache, AsyncCache], attributes: _Attributes) -> None:
        self._cache: Optional[Union[Cache, AsyncCache]] = cache
        self._attributes = dict(attributes)
        self._lock = threading.Lock()
        self.instruments: list[Instrument] = []

    def stop(self) -> None:
        with self._lock:
            self._cache = None

    def _stats(self) -> Optional[dict[str, Any]]:
        with self._lock:
            cache = self._cache
        if cache is None:
            return None
        try:
            return cache.stats()
        except ClosedError:
            return None  # used after fork(): the child's copy has nothing to say

    def _value(self, key: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(_options: CallbackOptions) -> Iterable[Observation]:
            stats = self._stats()
            return [] if stats is None else [Observation(int(stats[key]), self._attributes)]

        return observe

    def _flushes(self, _options: CallbackOptions) -> Iterable[Observation]:
        stats = self._stats()
        if stats is None:
            return []
        flushes = stats["flushes"]
        return [Observation(int(flushes[cause]), {**self._attributes, "cause": cause}) for cause in _FLUSH_CAUSES]

    def _errors(self, _options: CallbackOptions) -> Iterable[Observation]:
        stats = self._stats()
        if stats is None:
            return []
        return [
            Observation(int(count), {**self._attributes, "error.type": code})
            for code, count in sorted(stats["errors"].items())
        ]

    def _commands(self, _options: CallbackOptions) -> Iterable[Observation]:
        stats = self._stats()
        if stats is None:
            return []
        return [
            Observation(int(summary["count"]), {**self._attributes, "db.operation.name": op})
            for op, summary in sorted(stats["latency"].items())
        ]

    def _durations(self, _options: CallbackOptions) -> Iterable[Observation]:
        stats = self._stats()
        if stats is None:
            return []
        return [
            Observation(
                float(summary[field]) / 1e6,
                {**self._attributes, "db.operation.name": op, "quantile": quantile},
            )
            for op, summary in sorted(stats["latency"].items())
            for quantile, field in _QUANTILES
        ]


def instrument(
    cache: Union[Cache, AsyncCache],
    meter_provider: Optional[MeterProvider] = None,
    *,
    attributes: Optional[_Attributes] = None,
) -> Instrumentation:
    """Publishes ``cache.stats()`` as OpenTelemetry instruments of the meter
    ``nearcache`` from ``meter_provider`` (the global one when ``None``).

    ``attributes`` are added to every observation (for example
    ``{"nearcache.cache.name": "sessions"}`` to tell several caches apart).
    """
    meter = metrics.get_meter("nearcache", __version__, meter_provider=meter_provider)
    handle = Instrumentation(cache, attributes or {})
    made = handle.instruments
    for name, unit, description, key in _COUNTERS:
        made.append(meter.create_observable_counter(name, [handle._value(key)], unit, description))
    for name, unit, description, key in _LEVELS:
        made.append(meter.create_observable_up_down_counter(name, [handle._value(key)], unit, description))
    made.append(
        meter.create_observable_counter(
            "nearcache.l1.flushes", [handle._flushes], "{flush}", "Whole-L1 flushes, by cause."
        )
    )
    made.append(
        meter.create_observable_counter(
            "nearcache.errors", [handle._errors], "{error}", "Errors returned, by error code (error.type)."
        )
    )
    made.append(
        meter.create_observable_counter(
            "nearcache.commands",
            [handle._commands],
            "{command}",
            "Operations timed, by db.operation.name (l1_get is sampled: one lookup in 1024).",
        )
    )
    made.append(
        meter.create_observable_gauge(
            "nearcache.command.duration",
            [handle._durations],
            "s",
            "Operation latency since the cache was created, by db.operation.name and quantile (1 = maximum).",
        )
    )
    return handle
