"""The public cache classes: the native ones plus the JSON helpers.

``get_json`` / ``set_json`` are sugar over ``get`` / ``set``: ``json.dumps``
(compact, UTF-8) on the way in, ``json.loads`` on the way out. They live
here, in Python, so the native module only translates calls into the core.
"""

from __future__ import annotations

import json
from collections.abc import Coroutine
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
