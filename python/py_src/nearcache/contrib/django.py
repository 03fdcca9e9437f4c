"""A Django cache backend over nearcache: Django's cache API with an L1 tier.

.. code-block:: python

    CACHES = {
        "default": {
            "BACKEND": "nearcache.contrib.django.NearcacheCache",
            "LOCATION": "redis://127.0.0.1:6379/0",
            "OPTIONS": {"l1": {"max_bytes": "64MiB", "ttl": "30s"}},
        }
    }

``OPTIONS`` is nearcache's config tree (the keyword arguments of
:class:`nearcache.Cache`), plus ``serializer``: a class or dotted path
whose instances have ``dumps(obj) -> bytes`` and ``loads(bytes) -> obj``.
The default, :class:`PickleSerializer`, pickles values and stores ``int``
values as decimal text so that ``incr`` / ``decr`` run on the server (as
Django's own ``RedisCache`` does); :class:`RawSerializer` is the opt-out
(``bytes`` in, ``bytes`` out, nothing pickled).

The behaviour follows Django's ``RedisCache``: timeout ``None`` never
expires, ``0`` or less deletes the key, ``clear()`` is ``FLUSHDB``,
``incr`` checks that the key exists and then runs ``INCRBY``. Django builds
one backend object per thread; they share one :class:`nearcache.Cache` (one
L1, one set of connections) per ``LOCATION`` and ``OPTIONS`` in a process,
and ``close()`` (which Django calls after every request) keeps it open.
This module is sugar over the public API: every cache decision is core's.
"""

from __future__ import annotations

import json
import os
import pickle
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Optional, Protocol, TypeVar

from asgiref.sync import sync_to_async
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

import nearcache

__all__ = ["NearcacheCache", "PickleSerializer", "RawSerializer", "Serializer"]

T = TypeVar("T")

# LocMemCache / FileBasedCache / DatabaseCache options: L1 is bounded by
# `l1.max_bytes`, Redis by its own `maxmemory`; nothing here culls.
_CULL_OPTIONS = ("MAX_ENTRIES", "CULL_FREQUENCY")


class Serializer(Protocol):
    """What ``OPTIONS["serializer"]`` builds: bytes for Redis and back."""

    def dumps(self, obj: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


class PickleSerializer:
    """Pickles values; an ``int`` (exactly ``int``, not ``bool``) is stored as
    its decimal text so that ``INCRBY`` works on it, like Django's
    ``RedisSerializer``."""

    def __init__(self, protocol: Optional[int] = None) -> None:
        self.protocol = pickle.HIGHEST_PROTOCOL if protocol is None else protocol

    def dumps(self, obj: Any) -> bytes:
        if type(obj) is int:
            return str(obj).encode("ascii")
        return pickle.dumps(obj, self.protocol)

    def loads(self, data: bytes) -> Any:
        try:
            return int(data)
        except ValueError:  # pickle data never parses as an int (it starts with b"\x80")
            return pickle.loads(data)


class RawSerializer:
    """No pickling: values are ``bytes``-like in and ``bytes`` out (decimal
    text such as ``b"41"`` can be ``incr``-ed)."""

    def dumps(self, obj: Any) -> bytes:
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return bytes(obj)
        raise TypeError(f"RawSerializer stores bytes-like values only, got {type(obj).__name__}")

    def loads(self, data: bytes) -> Any:
        return data


_shared: dict[tuple[int, Optional[str], str], nearcache.Cache] = {}
_shared_lock = threading.Lock()


def _shared_cache(url: Optional[str], options: Mapping[str, Any]) -> nearcache.Cache:
    """The process's one cache for this location and config.

    Keyed by pid as well: a cache created before ``fork()`` refuses every
    call in the child (``ClosedError``), so a forked worker makes its own.
    """
    ident = (os.getpid(), url, json.dumps(options, sort_keys=True, default=repr))
    with _shared_lock:
        cache = _shared.get(ident)
        if cache is None:
            cache = nearcache.Cache(url, **options)
            _shared[ident] = cache
        return cache


def _location(server: Any) -> Optional[str]:
    if server is None or server == "":
        return None  # OPTIONS' redis.url, else nearcache's default
    if isinstance(server, str):
        return server
    if isinstance(server, (list, tuple)) and len(server) == 1 and isinstance(server[0], str):
        return server[0]
    raise ImproperlyConfigured(
        "NearcacheCache: LOCATION must be one Redis URL; for a cluster or several "
        "deployments use OPTIONS {'redis': {'mode': 'cluster'}} or {'routes': [...]}"
    )


def _in_thread(fn: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    # The sync cache is thread-safe and releases the GIL while it waits, so
    # calls need not queue on Django's one thread-sensitive executor.
    return sync_to_async(fn, thread_sensitive=False)


class NearcacheCache(BaseCache):
    """Django's cache API over one shared :class:`nearcache.Cache`."""

    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(params)
        options = dict(params.get("OPTIONS") or {})
        for name in _CULL_OPTIONS:
            if name in options:
                raise ImproperlyConfigured(
                    f"NearcacheCache: OPTIONS {name} does not apply; bound L1 with "
                    "OPTIONS {'l1': {'max_bytes': ...}} and Redis with its maxmemory"
                )
        serializer: Any = options.pop("serializer", PickleSerializer)
        if isinstance(serializer, str):
            serializer = import_string(serializer)
        if callable(serializer):
            serializer = serializer()
        self._serializer: Serializer = serializer
        self._cache = _shared_cache(_location(server), options)

    @property
    def nearcache(self) -> nearcache.Cache:
        """The underlying cache (``stats()``, ``get_local``, OpenTelemetry's
        :func:`nearcache.otel.instrument`)."""
        return self._cache

    def get_backend_timeout(self, timeout: Any = DEFAULT_TIMEOUT) -> Optional[float]:
        """Seconds for Redis: ``None`` never expires, ``0`` means delete."""
        if timeout is DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        return None if timeout is None else max(0.0, float(timeout))

    # --- sync API -----------------------------------------------------------

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Optional[int] = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        ttl = self.get_backend_timeout(timeout)
        data = self._serializer.dumps(value)
        if ttl == 0:
            # Added and expired at once: report whether it would have been added.
            added = self._cache.set(key, data, nx=True)
            if added:
                self._cache.delete(key)
            return added
        return self._cache.set(key, data, ttl=ttl, nx=True)

    def get(self, key: Any, default: Any = None, version: Optional[int] = None) -> Any:
        key = self.make_and_validate_key(key, version=version)
        data = self._cache.get(key)
        return default if data is None else self._serializer.loads(data)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Optional[int] = None) -> None:
        key = self.make_and_validate_key(key, version=version)
        ttl = self.get_backend_timeout(timeout)
        data = self._serializer.dumps(value)  # before any write: a value that cannot be stored changes nothing
        if ttl == 0:
            self._cache.delete(key)
        else:
            self._cache.set(key, data, ttl=ttl)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Optional[int] = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        ttl = self.get_backend_timeout(timeout)
        if ttl is None:
            # PERSIST answers 0 for a key without expiry too: then ask whether it exists.
            return bool(self._cache.command("PERSIST", key)) or bool(self._cache.command("EXISTS", key))
        if ttl == 0:
            return self._cache.delete(key)
        return self._cache.expire(key, ttl)

    def delete(self, key: Any, version: Optional[int] = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        return self._cache.delete(key)

    def get_many(self, keys: Iterable[Any], version: Optional[int] = None) -> dict[Any, Any]:
        made = {self.make_and_validate_key(key, version=version): key for key in keys}
        if not made:
            return {}
        values = self._cache.get_many(list(made))
        return {
            original: self._serializer.loads(data)
            for original, data in zip(made.values(), values)
            if data is not None
        }

    def has_key(self, key: Any, version: Optional[int] = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        return self._cache.get(key) is not None  # from L1 when it can

    def incr(self, key: Any, delta: int = 1, version: Optional[int] = None) -> int:
        key = self.make_and_validate_key(key, version=version)
        # Django's RedisCache does the same two steps: INCRBY alone would
        # create a missing key, and Django wants ValueError for one.
        if not self._cache.command("EXISTS", key):
            raise ValueError(f"Key {key!r} not found.")
        return int(self._cache.command("INCRBY", key, delta))

    def decr(self, key: Any, delta: int = 1, version: Optional[int] = None) -> int:
        return self.incr(key, -delta, version=version)

    def set_many(self, data: Mapping[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: Optional[int] = None) -> list[Any]:
        if not data:
            return []
        ttl = self.get_backend_timeout(timeout)
        items = {self.make_and_validate_key(key, version=version): self._serializer.dumps(value) for key, value in data.items()}
        if ttl == 0:
            self._cache.delete_many(list(items))
        else:
            self._cache.set_many(items, ttl=ttl)  # all or nothing: no key fails alone
        return []

    def delete_many(self, keys: Iterable[Any], version: Optional[int] = None) -> None:
        made = [self.make_and_validate_key(key, version=version) for key in keys]
        if made:
            self._cache.delete_many(made)

    def clear(self) -> None:
        # FLUSHDB, as Django's RedisCache: every key of the database, not only
        # this KEY_PREFIX. nearcache flushes L1 before sending it.
        self._cache.command("FLUSHDB")

    def close(self, **kwargs: Any) -> None:
        """Keeps the shared cache open: Django calls this after every request,
        and L1 is worth keeping across requests."""

    # --- async API ----------------------------------------------------------
    # An L1 hit is answered on the event loop (get_local never does I/O);
    # anything that goes to Redis runs the sync call in a worker thread. One
    # cache serves both APIs, so async code reads what sync code wrote.

    async def aadd(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Optional[int] = None) -> bool:
        return await _in_thread(self.add)(key, value, timeout, version)

    async def aget(self, key: Any, default: Any = None, version: Optional[int] = None) -> Any:
        made = self.make_and_validate_key(key, version=version)
        data = self._cache.get_local(made, _NOT_CACHED)
        if data is _NOT_CACHED:
            data = await _in_thread(self._cache.get)(made)
        return default if data is None else self._serializer.loads(data)

    async def aset(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Optional[int] = None) -> None:
        await _in_thread(self.set)(key, value, timeout, version)

    async def atouch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Optional[int] = None) -> bool:
        return await _in_thread(self.touch)(key, timeout, version)

    async def adelete(self, key: Any, version: Optional[int] = None) -> bool:
        return await _in_thread(self.delete)(key, version)

    async def aget_many(self, keys: Iterable[Any], version: Optional[int] = None) -> dict[Any, Any]:
        return await _in_thread(self.get_many)(list(keys), version)

    async def ahas_key(self, key: Any, version: Optional[int] = None) -> bool:
        made = self.make_and_validate_key(key, version=version)
        data = self._cache.get_local(made, _NOT_CACHED)
        if data is _NOT_CACHED:
            data = await _in_thread(self._cache.get)(made)
        return data is not None

    async def aincr(self, key: Any, delta: int = 1, version: Optional[int] = None) -> int:
        return await _in_thread(self.incr)(key, delta, version)

    async def adecr(self, key: Any, delta: int = 1, version: Optional[int] = None) -> int:
        return await _in_thread(self.decr)(key, delta, version)

    async def aset_many(self, data: Mapping[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: Optional[int] = None) -> list[Any]:
        return await _in_thread(self.set_many)(data, timeout, version)

    async def adelete_many(self, keys: Iterable[Any], version: Optional[int] = None) -> None:
        await _in_thread(self.delete_many)(list(keys), version)

    async def aclear(self) -> None:
        await _in_thread(self.clear)()

    async def aclose(self, **kwargs: Any) -> None:
        """See :meth:`close`."""


_NOT_CACHED: Any = object()
