"""nearcache: a fast Redis client-side cache.

A hot key is answered from process memory (the L1 tier) in well under a
microsecond; a miss goes to Redis over auto-pipelined connections; a write
anywhere invalidates every process's copy. :class:`Cache` is synchronous,
:class:`AsyncCache` is for asyncio; both take the same options as the config
file (``Cache(url, l1={"max_bytes": "64MiB"})``).
"""

from __future__ import annotations

from nearcache._cache import AsyncCache, Cache
from nearcache._native import MAX_KEY_LEN, AsyncPipeline, AsyncScript, Pipeline, Script, __version__
from nearcache.cached import cached
from nearcache.errors import (
    ArgumentTypeError,
    AuthError,
    ClosedError,
    CodecError,
    ConfigError,
    ConnectionError,
    InternalError,
    InvalidArgumentError,
    LoaderError,
    NearcacheError,
    RedisError,
    TimeoutError,
    TransactionAbortedError,
)

__all__ = [
    "Cache",
    "AsyncCache",
    "cached",
    "Pipeline",
    "AsyncPipeline",
    "Script",
    "AsyncScript",
    "MAX_KEY_LEN",
    "NearcacheError",
    "ConfigError",
    "ConnectionError",
    "TimeoutError",
    "AuthError",
    "RedisError",
    "CodecError",
    "InvalidArgumentError",
    "ArgumentTypeError",
    "ClosedError",
    "LoaderError",
    "InternalError",
    "TransactionAbortedError",
    "__version__",
]
