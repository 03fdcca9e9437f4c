"""The ``@cached`` decorator: memoize a function's result in nearcache.

The result is computed at most once per key across concurrent callers in this
process (the cache's single-flight ``get_or_load``), stored in Redis with the
given TTL, and served from L1 afterwards.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, Union, cast

from nearcache._native import AsyncCache, Cache
from nearcache.errors import ArgumentTypeError, LoaderError

__all__ = ["cached"]

F = TypeVar("F", bound=Callable[..., Any])
KeyFunc = Callable[..., Union[str, bytes]]


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _original(error: LoaderError) -> BaseException:
    """The function's own exception, which ``@cached`` lets through unchanged."""
    return error.__cause__ if error.__cause__ is not None else error


def cached(
    cache: Cache | AsyncCache,
    ttl: float | timedelta | None = None,
    key: str | KeyFunc | None = None,
    *,
    serialize: Callable[[Any], bytes] = _dumps,
    deserialize: Callable[[bytes], Any] = json.loads,
) -> Callable[[F], F]:
    """Memoize a function (sync with :class:`Cache`, ``async def`` with
    :class:`AsyncCache`) in ``cache``.

    ``key`` builds the cache key from the call's arguments: a format string
    (``"user:{0}"``, ``"user:{user_id}"``), a callable returning ``str`` or
    ``bytes``, or ``None`` for ``module.qualname:`` followed by the ``repr``
    of the arguments. Results are stored with ``serialize`` (JSON by default)
    and read back with ``deserialize``. An exception raised by the function
    propagates unchanged (it is not cached).
    """

    def decorate(fn: F) -> F:
        prefix = f"{fn.__module__}.{fn.__qualname__}:"

        def make_key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | bytes:
            if key is None:
                return prefix + repr((args, sorted(kwargs.items())))
            if isinstance(key, str):
                return key.format(*args, **kwargs)
            return key(*args, **kwargs)

        if inspect.iscoroutinefunction(fn):
            if not isinstance(cache, AsyncCache):
                raise ArgumentTypeError("@cached on an async function needs a nearcache.AsyncCache")
            acache = cache

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async def load() -> bytes:
                    return serialize(await fn(*args, **kwargs))

                try:
                    raw = await acache.get_or_load(make_key(args, kwargs), load, ttl=ttl)
                except LoaderError as e:
                    raise _original(e) from None
                return deserialize(raw)

            return cast(F, async_wrapper)

        if not isinstance(cache, Cache):
            raise ArgumentTypeError("@cached on a plain function needs a nearcache.Cache (use async def with AsyncCache)")
        scache = cache

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                raw = scache.get_or_load(make_key(args, kwargs), lambda: serialize(fn(*args, **kwargs)), ttl=ttl)
            except LoaderError as e:
                raise _original(e) from None
            return deserialize(raw)

        return cast(F, wrapper)

    return decorate
