"""The public cache classes: the native ones plus the JSON helpers and
``transaction``.

``get_json`` / ``set_json`` are sugar over ``get`` / ``set``: ``json.dumps``
(compact, UTF-8) on the way in, ``json.loads`` on the way out.
``transaction`` is redis-py's loop around a pipeline: it lives here because
it calls the user's function (an ``async def`` for :class:`AsyncCache`);
whether an attempt runs again, after which delay, and the error once the
retries are used up are core's decisions (``_execute_or_retry``).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any, Optional, Union, final

from nearcache import _native
from nearcache.errors import ArgumentTypeError

__all__ = ["Cache", "AsyncCache"]

_Key = Union[bytes, str]
_Ttl = Union[float, timedelta]


def _dumps(obj: Any) -> bytes:
    try:
        return json.dumps(obj, separators=(",", ":")).encode()
    except TypeError as e:  # not JSON serializable: a wrong argument type
        raise ArgumentTypeError(str(e)) from e


def _loads(value: Optional[bytes]) -> Any:
    return None if value is None else json.loads(value)


@final
class Cache(_native.Cache):
    """The synchronous cache (:class:`nearcache._native.Cache`, documented
    there) with the JSON helpers."""

    __slots__ = ()

    def get_json(self, key: _Key) -> Any:
        """``json.loads`` of the value of ``key``, or ``None`` if it is missing."""
        return _loads(self.get(key))

    def set_json(self, key: _Key, obj: Any, ttl: Optional[_Ttl] = None, nx: bool = False, xx: bool = False) -> bool:
        """Writes ``json.dumps(obj)`` (compact, UTF-8) to ``key``."""
        return self.set(key, _dumps(obj), ttl=ttl, nx=nx, xx=xx)

    def transaction(
        self,
        func: Callable[[_native.Pipeline], Any],
        *watches: _Key,
        shard_hint: Any = None,
        value_from_callable: bool = False,
        watch_delay: Optional[float] = None,
    ) -> Any:
        """redis-py's ``Redis.transaction``: ``func(pipe)`` runs with ``watches``
        watched (reads on ``pipe`` go straight to Redis until ``pipe.multi()``),
        then what it queued runs as one ``MULTI`` ... ``EXEC``. When a watched
        key changed, it all runs again, at most ``redis.transaction_retries``
        more times, then :class:`~nearcache.TransactionAbortedError`. Returns
        ``EXEC``'s results, or ``func``'s value with ``value_from_callable``."""
        retries = self._transaction_retries(watch_delay)
        while True:
            with self.pipeline(True, shard_hint) as pipe:
                if watches:
                    pipe.watch(*watches)
                value = func(pipe)
                results = pipe._execute_or_retry(retries)
            if results is not None:
                return value if value_from_callable else results


@final
class AsyncCache(_native.AsyncCache):
    """The asyncio cache (:class:`nearcache._native.AsyncCache`, documented
    there) with the JSON helpers."""

    __slots__ = ()

    def get_json(self, key: _Key) -> Coroutine[Any, Any, Any]:
        """``json.loads`` of the value of ``key``, or ``None``."""
        pending = self.get(key)  # a bad key raises here, like every method

        async def decode() -> Any:
            return _loads(await pending)

        return decode()

    def set_json(
        self, key: _Key, obj: Any, ttl: Optional[_Ttl] = None, nx: bool = False, xx: bool = False
    ) -> Coroutine[Any, Any, bool]:
        """Writes ``json.dumps(obj)`` to ``key``."""
        return self.set(key, _dumps(obj), ttl=ttl, nx=nx, xx=xx)

    async def transaction(
        self,
        func: Callable[[_native.AsyncPipeline], Union[Any, Awaitable[Any]]],
        *watches: _Key,
        shard_hint: Any = None,
        value_from_callable: bool = False,
        watch_delay: Optional[float] = None,
    ) -> Any:
        """redis.asyncio's ``transaction``: as :meth:`Cache.transaction`;
        ``func`` may be an ``async def`` (it is awaited)."""
        retries = self._transaction_retries(watch_delay)
        while True:
            async with self.pipeline(True, shard_hint) as pipe:
                if watches:
                    await pipe.watch(*watches)
                value = func(pipe)
                if inspect.isawaitable(value):
                    value = await value
                results = await pipe._execute_or_retry(retries)
            if results is not None:
                return value if value_from_callable else results
