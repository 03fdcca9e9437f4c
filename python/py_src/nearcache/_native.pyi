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

import builtins
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from datetime import timedelta
from os import PathLike
from types import TracebackType
from typing import Any, Generator, Optional, Union, final

from typing_extensions import Self, disjoint_base

__all__ = [
    "Cache",
    "Scan",
    "AsyncCache",
    "AsyncScan",
    "Call",
    "Pipeline",
    "AsyncPipeline",
    "Script",
    "AsyncScript",
    "TransactionRetries",
    "_panic_for_tests",
    "MAX_KEY_LEN",
    "__version__",
]

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
    def hget(self, name: _Key, key: _Key) -> Optional[bytes]:
        """One field of a hash (cached)."""
    def hmget(self, name: _Key, keys: Union[_Arg, Iterable[_Arg]], *args: _Arg) -> list[Optional[bytes]]:
        """Several fields of a hash, in order (cached); redis-py's ``hmget(name, keys, *args)``."""
    def hgetall(self, name: _Key) -> dict[bytes, bytes]:
        """Every field of a hash (cached)."""
    def hset(self, name: _Key, key: Optional[Union[_Key, _Items]] = None, value: Optional[_Value] = None, mapping: Optional[_Items] = None) -> int:
        """Sets hash fields (redis-py's ``hset(name, key, value, mapping=...)``; ``hset(name, mapping)`` too); returns how many were new."""
    def hexists(self, name: _Key, key: _Key) -> bool:
        """Whether the hash has the field (cached)."""
    def hlen(self, name: _Key) -> int:
        """How many fields the hash has (cached)."""
    def hkeys(self, name: _Key) -> list[bytes]:
        """The hash's field names (cached)."""
    def hvals(self, name: _Key) -> list[bytes]:
        """The hash's values (cached)."""
    def smembers(self, name: _Key) -> builtins.set[bytes]:
        """The members of a set (cached)."""
    def sismember(self, name: _Key, value: _Arg) -> int:
        """1 if ``value`` is in the set, else 0 (cached; redis-py's type)."""
    def smismember(self, name: _Key, values: Union[_Arg, Iterable[_Arg]], *args: _Arg) -> list[int]:
        """1 or 0 for each value, in order (cached)."""
    def scard(self, name: _Key) -> int:
        """How many members the set has (cached)."""
    def zscore(self, name: _Key, value: _Arg) -> Optional[float]:
        """The member's score, ``None`` if missing (cached)."""
    def zmscore(self, name: _Key, members: Union[_Arg, Iterable[_Arg]]) -> list[Optional[float]]:
        """The members' scores, in order (cached)."""
    def zrank(self, name: _Key, value: _Arg) -> Optional[int]:
        """The member's rank, lowest score first (cached)."""
    def zrevrank(self, name: _Key, value: _Arg) -> Optional[int]:
        """The member's rank, highest score first (cached)."""
    def zcard(self, name: _Key) -> int:
        """How many members the sorted set has (cached)."""
    def zcount(self, name: _Key, min: _Arg, max: _Arg) -> int:
        """How many members score from ``min`` to ``max`` (``"(1"``: exclusive; cached)."""
    def zrange(self, name: _Key, start: _Arg, end: _Arg, desc: bool = False, withscores: bool = False, score_cast_func: Optional[Callable[[float], Any]] = None, byscore: bool = False, bylex: bool = False, offset: Optional[int] = None, num: Optional[int] = None) -> list[Any]:
        """Members by rank (or ``byscore`` / ``bylex`` bounds), as redis-py's ``zrange``: ``bytes``, or ``(member, score)`` tuples with ``withscores`` (cached)."""
    def lrange(self, name: _Key, start: int, end: int) -> list[bytes]:
        """The list's elements from ``start`` to ``end`` inclusive (cached)."""
    def lindex(self, name: _Key, index: int) -> Optional[bytes]:
        """The element at ``index`` (cached)."""
    def llen(self, name: _Key) -> int:
        """The list's length (cached)."""
    def strlen(self, name: _Key) -> int:
        """The stored string's length (of the compressed frame for a compressed value; cached)."""
    def type(self, name: _Key) -> str:
        """``"string"``, ``"hash"``, ... or ``"none"`` (cached)."""
    def getbit(self, name: _Key, offset: int) -> int:
        """The bit at ``offset`` of the stored string, 0 or 1 (cached)."""
    def bitcount(self, key: _Key, start: Optional[int] = None, end: Optional[int] = None) -> int:
        """The number of set bits, optionally in a byte range (cached)."""
    def exists(self, *names: _Key) -> int:
        """How many of ``names`` exist (one name: cached; several: one raw EXISTS)."""
    def read(self, *args: _Arg) -> Any:
        """A cached read of any allow-listed command (``read("ZRANGE", k, 0, -1)``), the reply as :meth:`command` gives it; a command outside the allow-list raises :class:`~nearcache.InvalidArgumentError` naming it."""
    def incr(self, name: _Key, amount: int = 1) -> int:
        """``INCRBY``: the new value."""
    def incrby(self, name: _Key, amount: int = 1) -> int:
        """``INCRBY``: the new value."""
    def decr(self, name: _Key, amount: int = 1) -> int:
        """``DECRBY``: the new value."""
    def decrby(self, name: _Key, amount: int = 1) -> int:
        """``DECRBY``: the new value."""
    def hincrby(self, name: _Key, key: _Key, amount: int = 1) -> int:
        """``HINCRBY``: the field's new value."""
    def sadd(self, name: _Key, *values: _Arg) -> int:
        """Adds members; how many were new."""
    def srem(self, name: _Key, *values: _Arg) -> int:
        """Removes members; how many were there."""
    def zadd(self, name: _Key, mapping: Union[Mapping[Any, float], Iterable[tuple[_Arg, float]]], nx: bool = False, xx: bool = False, ch: bool = False, incr: bool = False, gt: bool = False, lt: bool = False) -> int:
        """Adds ``{member: score}``; how many were new. The flags are refused (send ZADD with options through :meth:`command`)."""
    def zrem(self, name: _Key, *values: _Arg) -> int:
        """Removes members; how many were there."""
    def zincrby(self, name: _Key, amount: float, value: _Arg) -> float:
        """``ZINCRBY``: the member's new score."""
    def lpush(self, name: _Key, *values: _Arg) -> int:
        """Pushes at the head; the new length."""
    def rpush(self, name: _Key, *values: _Arg) -> int:
        """Pushes at the tail; the new length."""
    def lpop(self, name: _Key) -> Optional[bytes]:
        """Pops the head (``None`` if empty)."""
    def rpop(self, name: _Key) -> Optional[bytes]:
        """Pops the tail (``None`` if empty)."""
    def ltrim(self, name: _Key, start: int, end: int) -> None:
        """Keeps only ``start`` .. ``end`` (``None``; redis-py returns ``True``)."""
    def persist(self, name: _Key) -> bool:
        """Removes the key's TTL; whether it had one."""
    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Pipeline:
        """A pipeline in redis-py's shape (``transaction=True``, redis-py's default,
        is one ``MULTI`` ... ``EXEC``; ``transaction=False`` answers cached reads
        from L1 when it can). See :class:`Pipeline`."""
    def register_script(self, script: Union[str, bytes]) -> Script:
        """A Lua script bound to this cache (redis-py's ``register_script``)."""
    def _transaction_retries(self, watch_delay: Optional[float] = None) -> TransactionRetries:
        """Core's retry policy for one ``transaction()`` call (used by ``nearcache.Cache.transaction``)."""
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
        *_exc: Union[builtins.type[BaseException], BaseException, TracebackType, None],
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
    def hget(self, name: _Key, key: _Key) -> Coroutine[Any, Any, Optional[bytes]]:
        """One field of a hash (cached)."""
    def hmget(self, name: _Key, keys: Union[_Arg, Iterable[_Arg]], *args: _Arg) -> Coroutine[Any, Any, list[Optional[bytes]]]:
        """Several fields of a hash, in order (cached); redis-py's ``hmget(name, keys, *args)``."""
    def hgetall(self, name: _Key) -> Coroutine[Any, Any, dict[bytes, bytes]]:
        """Every field of a hash (cached)."""
    def hset(self, name: _Key, key: Optional[Union[_Key, _Items]] = None, value: Optional[_Value] = None, mapping: Optional[_Items] = None) -> Coroutine[Any, Any, int]:
        """Sets hash fields (redis-py's ``hset(name, key, value, mapping=...)``; ``hset(name, mapping)`` too); returns how many were new."""
    def hexists(self, name: _Key, key: _Key) -> Coroutine[Any, Any, bool]:
        """Whether the hash has the field (cached)."""
    def hlen(self, name: _Key) -> Coroutine[Any, Any, int]:
        """How many fields the hash has (cached)."""
    def hkeys(self, name: _Key) -> Coroutine[Any, Any, list[bytes]]:
        """The hash's field names (cached)."""
    def hvals(self, name: _Key) -> Coroutine[Any, Any, list[bytes]]:
        """The hash's values (cached)."""
    def smembers(self, name: _Key) -> Coroutine[Any, Any, builtins.set[bytes]]:
        """The members of a set (cached)."""
    def sismember(self, name: _Key, value: _Arg) -> Coroutine[Any, Any, int]:
        """1 if ``value`` is in the set, else 0 (cached; redis-py's type)."""
    def smismember(self, name: _Key, values: Union[_Arg, Iterable[_Arg]], *args: _Arg) -> Coroutine[Any, Any, list[int]]:
        """1 or 0 for each value, in order (cached)."""
    def scard(self, name: _Key) -> Coroutine[Any, Any, int]:
        """How many members the set has (cached)."""
    def zscore(self, name: _Key, value: _Arg) -> Coroutine[Any, Any, Optional[float]]:
        """The member's score, ``None`` if missing (cached)."""
    def zmscore(self, name: _Key, members: Union[_Arg, Iterable[_Arg]]) -> Coroutine[Any, Any, list[Optional[float]]]:
        """The members' scores, in order (cached)."""
    def zrank(self, name: _Key, value: _Arg) -> Coroutine[Any, Any, Optional[int]]:
        """The member's rank, lowest score first (cached)."""
    def zrevrank(self, name: _Key, value: _Arg) -> Coroutine[Any, Any, Optional[int]]:
        """The member's rank, highest score first (cached)."""
    def zcard(self, name: _Key) -> Coroutine[Any, Any, int]:
        """How many members the sorted set has (cached)."""
    def zcount(self, name: _Key, min: _Arg, max: _Arg) -> Coroutine[Any, Any, int]:
        """How many members score from ``min`` to ``max`` (``"(1"``: exclusive; cached)."""
    def zrange(self, name: _Key, start: _Arg, end: _Arg, desc: bool = False, withscores: bool = False, score_cast_func: Optional[Callable[[float], Any]] = None, byscore: bool = False, bylex: bool = False, offset: Optional[int] = None, num: Optional[int] = None) -> Coroutine[Any, Any, list[Any]]:
        """Members by rank (or ``byscore`` / ``bylex`` bounds), as redis-py's ``zrange``: ``bytes``, or ``(member, score)`` tuples with ``withscores`` (cached)."""
    def lrange(self, name: _Key, start: int, end: int) -> Coroutine[Any, Any, list[bytes]]:
        """The list's elements from ``start`` to ``end`` inclusive (cached)."""
    def lindex(self, name: _Key, index: int) -> Coroutine[Any, Any, Optional[bytes]]:
        """The element at ``index`` (cached)."""
    def llen(self, name: _Key) -> Coroutine[Any, Any, int]:
        """The list's length (cached)."""
    def strlen(self, name: _Key) -> Coroutine[Any, Any, int]:
        """The stored string's length (of the compressed frame for a compressed value; cached)."""
    def type(self, name: _Key) -> Coroutine[Any, Any, str]:
        """``"string"``, ``"hash"``, ... or ``"none"`` (cached)."""
    def getbit(self, name: _Key, offset: int) -> Coroutine[Any, Any, int]:
        """The bit at ``offset`` of the stored string, 0 or 1 (cached)."""
    def bitcount(self, key: _Key, start: Optional[int] = None, end: Optional[int] = None) -> Coroutine[Any, Any, int]:
        """The number of set bits, optionally in a byte range (cached)."""
    def exists(self, *names: _Key) -> Coroutine[Any, Any, int]:
        """How many of ``names`` exist (one name: cached; several: one raw EXISTS)."""
    def read(self, *args: _Arg) -> Coroutine[Any, Any, Any]:
        """A cached read of any allow-listed command (``read("ZRANGE", k, 0, -1)``), the reply as :meth:`command` gives it; a command outside the allow-list raises :class:`~nearcache.InvalidArgumentError` naming it."""
    def incr(self, name: _Key, amount: int = 1) -> Coroutine[Any, Any, int]:
        """``INCRBY``: the new value."""
    def incrby(self, name: _Key, amount: int = 1) -> Coroutine[Any, Any, int]:
        """``INCRBY``: the new value."""
    def decr(self, name: _Key, amount: int = 1) -> Coroutine[Any, Any, int]:
        """``DECRBY``: the new value."""
    def decrby(self, name: _Key, amount: int = 1) -> Coroutine[Any, Any, int]:
        """``DECRBY``: the new value."""
    def hincrby(self, name: _Key, key: _Key, amount: int = 1) -> Coroutine[Any, Any, int]:
        """``HINCRBY``: the field's new value."""
    def sadd(self, name: _Key, *values: _Arg) -> Coroutine[Any, Any, int]:
        """Adds members; how many were new."""
    def srem(self, name: _Key, *values: _Arg) -> Coroutine[Any, Any, int]:
        """Removes members; how many were there."""
    def zadd(self, name: _Key, mapping: Union[Mapping[Any, float], Iterable[tuple[_Arg, float]]], nx: bool = False, xx: bool = False, ch: bool = False, incr: bool = False, gt: bool = False, lt: bool = False) -> Coroutine[Any, Any, int]:
        """Adds ``{member: score}``; how many were new. The flags are refused (send ZADD with options through :meth:`command`)."""
    def zrem(self, name: _Key, *values: _Arg) -> Coroutine[Any, Any, int]:
        """Removes members; how many were there."""
    def zincrby(self, name: _Key, amount: float, value: _Arg) -> Coroutine[Any, Any, float]:
        """``ZINCRBY``: the member's new score."""
    def lpush(self, name: _Key, *values: _Arg) -> Coroutine[Any, Any, int]:
        """Pushes at the head; the new length."""
    def rpush(self, name: _Key, *values: _Arg) -> Coroutine[Any, Any, int]:
        """Pushes at the tail; the new length."""
    def lpop(self, name: _Key) -> Coroutine[Any, Any, Optional[bytes]]:
        """Pops the head (``None`` if empty)."""
    def rpop(self, name: _Key) -> Coroutine[Any, Any, Optional[bytes]]:
        """Pops the tail (``None`` if empty)."""
    def ltrim(self, name: _Key, start: int, end: int) -> Coroutine[Any, Any, None]:
        """Keeps only ``start`` .. ``end`` (``None``; redis-py returns ``True``)."""
    def persist(self, name: _Key) -> Coroutine[Any, Any, bool]:
        """Removes the key's TTL; whether it had one."""
    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> AsyncPipeline:
        """A pipeline in redis.asyncio's shape; see :class:`AsyncPipeline`."""
    def register_script(self, script: Union[str, bytes]) -> AsyncScript:
        """A Lua script bound to this cache; calling it returns a coroutine."""
    def _transaction_retries(self, watch_delay: Optional[float] = None) -> TransactionRetries:
        """Core's retry policy for one ``transaction()`` call."""
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
        *_exc: Union[builtins.type[BaseException], BaseException, TracebackType, None],
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

@final
class Pipeline:
    """``Cache.pipeline()``: redis-py's ``Pipeline``.

    The cache's typed methods (same names, arguments and result types) plus
    ``get``, ``set`` (``PX`` as given: no jitter, no compression), ``delete``,
    ``expire``, ``hdel``, ``command`` / ``execute_command`` (raw). Each one
    queues its command and returns the pipeline (chainable); while watching
    (after :meth:`watch`, before :meth:`multi`) it runs at once on the
    transaction's connection (never from L1) and returns its result.

    :meth:`execute` sends what is queued and returns one result per command,
    in call order, each converted as the typed method of its name returns
    it (a plain pipeline answers cached reads from L1 when it can, unless
    an earlier command of it may have written the key). A command's error
    (``WRONGTYPE``) is raised (``raise_on_error=True``, the first one) or
    returned in its place. With ``transaction=True`` the commands run as one
    ``MULTI`` ... ``EXEC`` on a dedicated connection; a command Redis refuses
    while queueing fails the whole pipeline (``EXECABORT``).
    """

    def bitcount(self, key: _Key, start: Optional[int] = None, end: Optional[int] = None) -> Any: ...
    def command(self, *args: _Arg) -> Any: ...
    def decr(self, name: _Key, amount: int = 1) -> Any: ...
    def decrby(self, name: _Key, amount: int = 1) -> Any: ...
    def delete(self, key: _Key) -> Any: ...
    def execute_command(self, *args: _Arg) -> Any: ...
    def exists(self, *names: _Key) -> Any: ...
    def expire(self, key: _Key, ttl: _Ttl) -> Any: ...
    def get(self, key: _Key) -> Any: ...
    def getbit(self, name: _Key, offset: int) -> Any: ...
    def hdel(self, key: _Key, *fields: _Key) -> Any: ...
    def hexists(self, name: _Key, key: _Key) -> Any: ...
    def hget(self, name: _Key, key: _Key) -> Any: ...
    def hgetall(self, name: _Key) -> Any: ...
    def hincrby(self, name: _Key, key: _Key, amount: int = 1) -> Any: ...
    def hkeys(self, name: _Key) -> Any: ...
    def hlen(self, name: _Key) -> Any: ...
    def hmget(self, name: _Key, keys: Union[_Arg, Iterable[_Arg]], *args: _Arg) -> Any: ...
    def hset(self, name: _Key, key: Optional[Union[_Key, _Items]] = None, value: Optional[_Value] = None, mapping: Optional[_Items] = None) -> Any: ...
    def hvals(self, name: _Key) -> Any: ...
    def incr(self, name: _Key, amount: int = 1) -> Any: ...
    def incrby(self, name: _Key, amount: int = 1) -> Any: ...
    def lindex(self, name: _Key, index: int) -> Any: ...
    def llen(self, name: _Key) -> Any: ...
    def lpop(self, name: _Key) -> Any: ...
    def lpush(self, name: _Key, *values: _Arg) -> Any: ...
    def lrange(self, name: _Key, start: int, end: int) -> Any: ...
    def ltrim(self, name: _Key, start: int, end: int) -> Any: ...
    def persist(self, name: _Key) -> Any: ...
    def read(self, *args: _Arg) -> Any: ...
    def rpop(self, name: _Key) -> Any: ...
    def rpush(self, name: _Key, *values: _Arg) -> Any: ...
    def sadd(self, name: _Key, *values: _Arg) -> Any: ...
    def scard(self, name: _Key) -> Any: ...
    def set(self, key: _Key, value: _Value, ttl: Optional[_Ttl] = None, nx: bool = False, xx: bool = False) -> Any: ...
    def sismember(self, name: _Key, value: _Arg) -> Any: ...
    def smembers(self, name: _Key) -> Any: ...
    def smismember(self, name: _Key, values: Union[_Arg, Iterable[_Arg]], *args: _Arg) -> Any: ...
    def srem(self, name: _Key, *values: _Arg) -> Any: ...
    def strlen(self, name: _Key) -> Any: ...
    def type(self, name: _Key) -> Any: ...
    def zadd(self, name: _Key, mapping: Union[Mapping[Any, float], Iterable[tuple[_Arg, float]]], nx: bool = False, xx: bool = False, ch: bool = False, incr: bool = False, gt: bool = False, lt: bool = False) -> Any: ...
    def zcard(self, name: _Key) -> Any: ...
    def zcount(self, name: _Key, min: _Arg, max: _Arg) -> Any: ...
    def zincrby(self, name: _Key, amount: float, value: _Arg) -> Any: ...
    def zmscore(self, name: _Key, members: Union[_Arg, Iterable[_Arg]]) -> Any: ...
    def zrange(self, name: _Key, start: _Arg, end: _Arg, desc: bool = False, withscores: bool = False, score_cast_func: Optional[Callable[[float], Any]] = None, byscore: bool = False, bylex: bool = False, offset: Optional[int] = None, num: Optional[int] = None) -> Any: ...
    def zrank(self, name: _Key, value: _Arg) -> Any: ...
    def zrem(self, name: _Key, *values: _Arg) -> Any: ...
    def zrevrank(self, name: _Key, value: _Arg) -> Any: ...
    def zscore(self, name: _Key, value: _Arg) -> Any: ...
    def execute(self, raise_on_error: bool = True) -> list[Any]:
        """Sends the queued commands; their results in call order. Empties the pipeline."""
    def _execute_or_retry(self, retries: TransactionRetries) -> Optional[list[Any]]:
        """``execute()`` for ``transaction()``: ``None`` when an aborted ``EXEC``
        is to be run again (after core's delay); core's final error is raised."""
    def watch(self, *keys: _Key) -> None:
        """``WATCH keys`` on a dedicated connection: commands then run at once until :meth:`multi`."""
    def multi(self) -> None:
        """Starts the queued part (``MULTI`` ... ``EXEC`` at :meth:`execute`)."""
    def unwatch(self) -> None:
        """``UNWATCH`` and drop what is queued."""
    def reset(self) -> None:
        """Drops what is queued and ends watching (redis-py's ``reset``)."""
    @property
    def watching(self) -> bool:
        """Whether :meth:`watch` was called since the last execute/reset."""
    def __len__(self) -> int: ...
    def __bool__(self) -> bool: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *_exc: Union[builtins.type[BaseException], BaseException, TracebackType, None]) -> None: ...

@final
class AsyncPipeline:
    """``AsyncCache.pipeline()``: redis.asyncio's ``Pipeline``. Queueing methods
    return the pipeline (also awaitable, giving itself); while watching they
    return a coroutine. :meth:`execute`, :meth:`watch`, :meth:`reset` return
    coroutines.

    The cache's typed methods (same names, arguments and result types) plus
    ``get``, ``set`` (``PX`` as given: no jitter, no compression), ``delete``,
    ``expire``, ``hdel``, ``command`` / ``execute_command`` (raw). Each one
    queues its command and returns the pipeline (chainable); while watching
    (after :meth:`watch`, before :meth:`multi`) it runs at once on the
    transaction's connection (never from L1) and returns its result.
    """

    def bitcount(self, key: _Key, start: Optional[int] = None, end: Optional[int] = None) -> Any: ...
    def command(self, *args: _Arg) -> Any: ...
    def decr(self, name: _Key, amount: int = 1) -> Any: ...
    def decrby(self, name: _Key, amount: int = 1) -> Any: ...
    def delete(self, key: _Key) -> Any: ...
    def execute_command(self, *args: _Arg) -> Any: ...
    def exists(self, *names: _Key) -> Any: ...
    def expire(self, key: _Key, ttl: _Ttl) -> Any: ...
    def get(self, key: _Key) -> Any: ...
    def getbit(self, name: _Key, offset: int) -> Any: ...
    def hdel(self, key: _Key, *fields: _Key) -> Any: ...
    def hexists(self, name: _Key, key: _Key) -> Any: ...
    def hget(self, name: _Key, key: _Key) -> Any: ...
    def hgetall(self, name: _Key) -> Any: ...
    def hincrby(self, name: _Key, key: _Key, amount: int = 1) -> Any: ...
    def hkeys(self, name: _Key) -> Any: ...
    def hlen(self, name: _Key) -> Any: ...
    def hmget(self, name: _Key, keys: Union[_Arg, Iterable[_Arg]], *args: _Arg) -> Any: ...
    def hset(self, name: _Key, key: Optional[Union[_Key, _Items]] = None, value: Optional[_Value] = None, mapping: Optional[_Items] = None) -> Any: ...
    def hvals(self, name: _Key) -> Any: ...
    def incr(self, name: _Key, amount: int = 1) -> Any: ...
    def incrby(self, name: _Key, amount: int = 1) -> Any: ...
    def lindex(self, name: _Key, index: int) -> Any: ...
    def llen(self, name: _Key) -> Any: ...
    def lpop(self, name: _Key) -> Any: ...
    def lpush(self, name: _Key, *values: _Arg) -> Any: ...
    def lrange(self, name: _Key, start: int, end: int) -> Any: ...
    def ltrim(self, name: _Key, start: int, end: int) -> Any: ...
    def persist(self, name: _Key) -> Any: ...
    def read(self, *args: _Arg) -> Any: ...
    def rpop(self, name: _Key) -> Any: ...
    def rpush(self, name: _Key, *values: _Arg) -> Any: ...
    def sadd(self, name: _Key, *values: _Arg) -> Any: ...
    def scard(self, name: _Key) -> Any: ...
    def set(self, key: _Key, value: _Value, ttl: Optional[_Ttl] = None, nx: bool = False, xx: bool = False) -> Any: ...
    def sismember(self, name: _Key, value: _Arg) -> Any: ...
    def smembers(self, name: _Key) -> Any: ...
    def smismember(self, name: _Key, values: Union[_Arg, Iterable[_Arg]], *args: _Arg) -> Any: ...
    def srem(self, name: _Key, *values: _Arg) -> Any: ...
    def strlen(self, name: _Key) -> Any: ...
    def type(self, name: _Key) -> Any: ...
    def zadd(self, name: _Key, mapping: Union[Mapping[Any, float], Iterable[tuple[_Arg, float]]], nx: bool = False, xx: bool = False, ch: bool = False, incr: bool = False, gt: bool = False, lt: bool = False) -> Any: ...
    def zcard(self, name: _Key) -> Any: ...
    def zcount(self, name: _Key, min: _Arg, max: _Arg) -> Any: ...
    def zincrby(self, name: _Key, amount: float, value: _Arg) -> Any: ...
    def zmscore(self, name: _Key, members: Union[_Arg, Iterable[_Arg]]) -> Any: ...
    def zrange(self, name: _Key, start: _Arg, end: _Arg, desc: bool = False, withscores: bool = False, score_cast_func: Optional[Callable[[float], Any]] = None, byscore: bool = False, bylex: bool = False, offset: Optional[int] = None, num: Optional[int] = None) -> Any: ...
    def zrank(self, name: _Key, value: _Arg) -> Any: ...
    def zrem(self, name: _Key, *values: _Arg) -> Any: ...
    def zrevrank(self, name: _Key, value: _Arg) -> Any: ...
    def zscore(self, name: _Key, value: _Arg) -> Any: ...
    def execute(self, raise_on_error: bool = True) -> Coroutine[Any, Any, list[Any]]:
        """Sends the queued commands; their results in call order."""
    def _execute_or_retry(self, retries: TransactionRetries) -> Coroutine[Any, Any, Optional[list[Any]]]:
        """``execute()`` for ``transaction()`` (see :meth:`Pipeline._execute_or_retry`)."""
    def watch(self, *keys: _Key) -> Coroutine[Any, Any, None]:
        """``WATCH keys``; commands then run at once until :meth:`multi`."""
    def multi(self) -> None:
        """Starts the queued part."""
    def unwatch(self) -> Coroutine[Any, Any, None]:
        """``UNWATCH`` and drop what is queued."""
    def reset(self) -> Coroutine[Any, Any, None]:
        """Drops what is queued and ends watching."""
    @property
    def watching(self) -> bool:
        """Whether :meth:`watch` was called since the last execute/reset."""
    def __len__(self) -> int: ...
    def __bool__(self) -> bool: ...
    def __await__(self) -> Generator[Any, None, Self]: ...
    def __aenter__(self) -> Coroutine[Any, Any, Self]: ...
    def __aexit__(
        self, *_exc: Union[builtins.type[BaseException], BaseException, TracebackType, None]
    ) -> Coroutine[Any, Any, None]: ...

@final
class Script:
    """``Cache.register_script(lua)``: ``script(keys=[...], args=[...])`` runs it
    (``EVALSHA``, ``EVAL`` when the server answers ``NOSCRIPT``), the reply as
    :meth:`Cache.command` gives it; ``client=pipe`` queues it in that pipeline
    (sent as ``EVAL``) and returns the pipeline. Its declared keys are dropped
    from L1 (declare every key the script writes)."""

    def __call__(
        self, keys: Optional[Iterable[_Key]] = None, args: Optional[Iterable[_Arg]] = None, client: Optional[Pipeline] = None
    ) -> Any: ...
    @property
    def sha(self) -> str:
        """The script's SHA1 (what ``EVALSHA`` names)."""
    @property
    def script(self) -> bytes:
        """The Lua source."""

@final
class AsyncScript:
    """``AsyncCache.register_script(lua)``: calling it returns a coroutine
    (or, with ``client=pipe``, queues it and returns the pipeline)."""

    def __call__(
        self,
        keys: Optional[Iterable[_Key]] = None,
        args: Optional[Iterable[_Arg]] = None,
        client: Optional[AsyncPipeline] = None,
    ) -> Any: ...
    @property
    def sha(self) -> str:
        """The script's SHA1."""
    @property
    def script(self) -> bytes:
        """The Lua source."""

@final
class TransactionRetries:
    """Core's retry policy for one ``transaction()`` call
    (``redis.transaction_retries``, redis-py's ``watch_delay``)."""
