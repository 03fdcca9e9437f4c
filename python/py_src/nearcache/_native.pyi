"""Type stubs and documentation of the native module ``nearcache._native``.

Keys are ``bytes`` or ``str`` (UTF-8), 1 byte to ``MAX_KEY_LEN`` bytes.
Values are ``bytes``, ``bytearray`` or ``memoryview`` in, ``bytes`` out.
TTLs are seconds (``int`` / ``float``) or a ``datetime.timedelta``.
Errors are the exceptions of :mod:`nearcache.errors`, each with its ``code``;
a wrong argument type raises :class:`~nearcache.ArgumentTypeError` (a
:class:`TypeError` and an :class:`~nearcache.InvalidArgumentError`, code
``"NC_INVALID_ARGUMENT"``). ``nearcache.Cache`` and ``nearcache.AsyncCache``
subclass the classes here, adding ``get_json`` / ``set_json``.
"""

from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from datetime import timedelta
from os import PathLike
from types import TracebackType
from typing import Any, Generator, Optional, Union, final

from typing_extensions import Self, disjoint_base

__all__ = ["Cache", "Scan", "AsyncCache", "AsyncScan", "Call", "_panic_for_tests", "MAX_KEY_LEN", "__version__"]

_Key = Union[bytes, str]
_Value = Union[bytes, bytearray, memoryview]
_Ttl = Union[float, timedelta]
# Mapping is invariant in its key type: list the usual dict types explicitly.
_Items = Union[
    Mapping[str, _Value], Mapping[bytes, _Value], Mapping[_Key, _Value], Iterable[tuple[_Key, _Value]]
]
_Arg = Union[bytes, str, int, float, bytearray, memoryview]

MAX_KEY_LEN: int
"""The longest key accepted, in bytes (64 KiB)."""

__version__: str

# Only in builds with the `test-hooks` cargo feature (what `make python-test`
# installs and stubtest checks); a plain `pip install ./python` has no hook.
def _panic_for_tests(message: str) -> None:
    """Panics in Rust inside the binding's guard (raises :class:`~nearcache.InternalError`); for tests."""

@disjoint_base
class Cache:
    """The synchronous cache. Thread-safe: share one per process.

    ``Cache(url, **options)`` takes the config file's tree as keyword
    arguments (``l1={"max_bytes": "64MiB", "ttl": "30s"}``,
    ``redis={"command_timeout": "250ms"}``); ``url`` is the shortcut for
    ``redis.url``. Core validates the options; a bad one raises
    :class:`~nearcache.ConfigError` naming the field path. No I/O happens
    until the first command (call :meth:`connect` to fail early).

    An L1 hit is answered with the GIL held (it takes well under a
    microsecond); a call that goes to Redis releases the GIL while it waits.
    A cache created before ``os.fork()`` raises :class:`~nearcache.ClosedError`
    in the child: create a new one there.
    """

    def __new__(cls, url: Optional[str] = None, **options: Any) -> Self: ...
    @classmethod
    def from_config(cls, path: Union[str, PathLike[str]]) -> Self:
        """A cache from a TOML (or ``.json``) config file."""
    @classmethod
    def from_env(cls) -> Self:
        """A cache from ``NEARCACHE_CONFIG`` (a file path), then ``NEARCACHE_URL`` or ``REDIS_URL``."""
    def config_json(self) -> str:
        """The effective configuration as JSON (password redacted), identical in every language."""
    def connect(self) -> None:
        """Opens every connection now; raises the first error."""
    def get(self, key: _Key) -> Optional[bytes]:
        """The value of ``key`` (``None`` if missing): from L1, else from Redis, filling L1."""
    def get_local(self, key: _Key, default: Any = None) -> Any:
        """L1 only, never touching the network: the value on a hit, ``None`` when
        L1 knows the key is absent (a cached miss), ``default`` when L1 cannot answer."""
    def get_many(self, keys: Iterable[_Key]) -> list[Optional[bytes]]:
        """The values of ``keys`` in order: L1 answers what it can, one MGET fetches the rest."""
    def set(self, key: _Key, value: _Value, ttl: Optional[_Ttl] = None, nx: bool = False, xx: bool = False) -> bool:
        """Writes ``key``; ``False`` when ``nx`` / ``xx`` prevented the write. Large values are compressed."""
    def set_many(self, items: _Items, ttl: Optional[_Ttl] = None) -> None:
        """Writes several keys at once (all or nothing)."""
    def delete(self, key: _Key) -> bool:
        """Deletes ``key``; ``True`` if it existed."""
    def delete_many(self, keys: Iterable[_Key]) -> int:
        """Deletes ``keys`` with one DEL; returns how many existed."""
    def expire(self, key: _Key, ttl: _Ttl) -> bool:
        """Makes ``key`` expire after ``ttl``; ``True`` if the key exists."""
    def ttl(self, key: _Key) -> Optional[float]:
        """Seconds left before ``key`` expires: ``math.inf`` if it never does, ``None`` if it is missing."""
    def hget(self, key: _Key, field: _Key) -> Optional[bytes]:
        """One field of a hash."""
    def hmget(self, key: _Key, fields: Iterable[_Key]) -> list[Optional[bytes]]:
        """Several fields of a hash, in order."""
    def hgetall(self, key: _Key) -> dict[bytes, bytes]:
        """Every field of a hash."""
    def hset(self, key: _Key, mapping: _Items) -> int:
        """Sets hash fields; returns how many were new."""
    def hdel(self, key: _Key, *fields: _Key) -> int:
        """Deletes hash fields; returns how many existed."""
    def get_or_load(self, key: _Key, loader: Callable[[], _Value], ttl: Optional[_Ttl] = None) -> bytes:
        """The value of ``key``, or else ``loader()``'s, which is written to Redis with ``ttl``.

        Concurrent callers for one key (threads of this process) run the
        loader once and share its result; the loader runs on the calling
        thread. A loader exception raises :class:`~nearcache.LoaderError`
        with the original exception as ``__cause__``.
        """
    def invalidate_local(self, *keys: _Key) -> None:
        """Drops ``keys`` from this process's L1 (Redis is untouched)."""
    def invalidate_local_all(self) -> None:
        """Empties this process's L1."""
    def scan(self, pattern: Optional[_Key] = None) -> Scan:
        """Iterates over the keys matching the glob ``pattern`` with SCAN (never KEYS); keys may repeat."""
    def delete_prefix(self, prefix: _Key) -> int:
        """Deletes every key starting with ``prefix`` (SCAN + UNLINK); returns how many."""
    def command(self, *args: _Arg) -> Any:
        """Sends a raw command (never cached). Replies: ``None``, ``int``, ``bytes``,
        ``str`` (status), ``float``, ``bool``, ``list``, ``dict``. Commands that
        would change or hold the shared connection raise
        :class:`~nearcache.InvalidArgumentError`."""
    def stats(self) -> dict[str, Any]:
        """Counters, latency summaries, slow log and hot keys as a plain dict."""
    def stats_prometheus(self) -> str:
        """The stats in the Prometheus text format."""
    def close(self) -> None:
        """Closes the connections and empties L1; later calls raise :class:`~nearcache.ClosedError`."""
    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        *_exc: Union[type[BaseException], BaseException, TracebackType, None],
    ) -> None: ...

@final
class Scan:
    """The iterator returned by :meth:`Cache.scan`."""

    def __iter__(self) -> Self: ...
    def __next__(self) -> bytes: ...

@disjoint_base
class AsyncCache:
    """The asyncio cache: the same API as :class:`Cache`, with awaitable methods.

    The methods return coroutine objects (:class:`Call`), so
    ``asyncio.create_task``, ``TaskGroup.create_task``, ``wait_for``,
    ``gather`` and ``ensure_future`` all take them. An L1 hit returns one
    that finishes on its first step, so ``await cache.get(k)`` costs no
    event-loop round trip. Unlike an ``async def``, a call starts when it is
    made (a bad argument raises there) and may be awaited again. Network I/O
    runs on nearcache's own runtime threads, never on the event loop's
    thread. Cancelling a pending call leaves the cache usable.
    """

    def __new__(cls, url: Optional[str] = None, **options: Any) -> Self: ...
    @classmethod
    def from_config(cls, path: Union[str, PathLike[str]]) -> Self:
        """A cache from a TOML (or ``.json``) config file."""
    @classmethod
    def from_env(cls) -> Self:
        """A cache from ``NEARCACHE_CONFIG``, then ``NEARCACHE_URL`` or ``REDIS_URL``."""
    def config_json(self) -> str:
        """The effective configuration as JSON (password redacted)."""
    def connect(self) -> Coroutine[Any, Any, None]:
        """Opens every connection now."""
    def get(self, key: _Key) -> Coroutine[Any, Any, Optional[bytes]]:
        """The value of ``key`` (``None`` if missing)."""
    def get_local(self, key: _Key, default: Any = None) -> Any:
        """L1 only, synchronous: the value on a hit, ``None`` for a cached absence,
        ``default`` when L1 cannot answer."""
    def get_many(self, keys: Iterable[_Key]) -> Coroutine[Any, Any, list[Optional[bytes]]]:
        """The values of ``keys`` in order."""
    def set(
        self, key: _Key, value: _Value, ttl: Optional[_Ttl] = None, nx: bool = False, xx: bool = False
    ) -> Coroutine[Any, Any, bool]:
        """Writes ``key``; ``False`` when ``nx`` / ``xx`` prevented the write."""
    def set_many(self, items: _Items, ttl: Optional[_Ttl] = None) -> Coroutine[Any, Any, None]:
        """Writes several keys at once (all or nothing)."""
    def delete(self, key: _Key) -> Coroutine[Any, Any, bool]:
        """Deletes ``key``; ``True`` if it existed."""
    def delete_many(self, keys: Iterable[_Key]) -> Coroutine[Any, Any, int]:
        """Deletes ``keys``; returns how many existed."""
    def expire(self, key: _Key, ttl: _Ttl) -> Coroutine[Any, Any, bool]:
        """Makes ``key`` expire after ``ttl``."""
    def ttl(self, key: _Key) -> Coroutine[Any, Any, Optional[float]]:
        """Seconds left (``math.inf``: no expiry, ``None``: missing)."""
    def hget(self, key: _Key, field: _Key) -> Coroutine[Any, Any, Optional[bytes]]:
        """One field of a hash."""
    def hmget(self, key: _Key, fields: Iterable[_Key]) -> Coroutine[Any, Any, list[Optional[bytes]]]:
        """Several fields of a hash."""
    def hgetall(self, key: _Key) -> Coroutine[Any, Any, dict[bytes, bytes]]:
        """Every field of a hash."""
    def hset(self, key: _Key, mapping: _Items) -> Coroutine[Any, Any, int]:
        """Sets hash fields; returns how many were new."""
    def hdel(self, key: _Key, *fields: _Key) -> Coroutine[Any, Any, int]:
        """Deletes hash fields."""
    def get_or_load(
        self,
        key: _Key,
        loader: Callable[[], Union[_Value, Awaitable[_Value]]],
        ttl: Optional[_Ttl] = None,
    ) -> Coroutine[Any, Any, bytes]:
        """The value of ``key``, or else the loader's (a plain callable or an
        ``async def``), written to Redis with ``ttl``; once per key across
        concurrent callers. A loader exception raises
        :class:`~nearcache.LoaderError` with it as ``__cause__``."""
    def invalidate_local(self, *keys: _Key) -> None:
        """Drops ``keys`` from this process's L1."""
    def invalidate_local_all(self) -> None:
        """Empties this process's L1."""
    def scan(self, pattern: Optional[_Key] = None) -> AsyncScan:
        """``async for key in cache.scan("user:*")``: SCAN, never KEYS."""
    def delete_prefix(self, prefix: _Key) -> Coroutine[Any, Any, int]:
        """Deletes every key starting with ``prefix``."""
    def command(self, *args: _Arg) -> Coroutine[Any, Any, Any]:
        """Sends a raw command (never cached)."""
    def stats(self) -> dict[str, Any]:
        """Counters, latencies, slow log and hot keys as a dict."""
    def stats_prometheus(self) -> str:
        """The stats in the Prometheus text format."""
    def close(self) -> Coroutine[Any, Any, None]:
        """Refuses new calls (``ClosedError``), waits for the calls in flight,
        then closes the connections and empties L1. Starts when called; await
        it to wait until the cache is closed. Outside a running event loop it
        closes at once. Closing twice is harmless."""
    def aclose(self) -> Coroutine[Any, Any, None]:
        """The same as :meth:`close`."""
    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
    def __aenter__(self) -> Coroutine[Any, Any, Self]: ...
    def __aexit__(
        self,
        *_exc: Union[type[BaseException], BaseException, TracebackType, None],
    ) -> Coroutine[Any, Any, None]: ...

@final
class AsyncScan:
    """The async iterator returned by :meth:`AsyncCache.scan`."""

    def __aiter__(self) -> Self: ...
    def __anext__(self) -> Coroutine[Any, Any, bytes]: ...

@final
class Call(Coroutine[Any, Any, Any]):
    """What every :class:`AsyncCache` method returns: a coroutine object
    (registered with :class:`collections.abc.Coroutine`). An L1 hit is
    already done: its first ``send`` raises ``StopIteration(value)``."""

    def __await__(self) -> Generator[Any, None, Any]: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> Any: ...
    def send(self, value: Any, /) -> Any: ...
    def throw(self, typ: Any, val: Any = None, tb: Any = None, /) -> Any: ...
    def close(self) -> None: ...