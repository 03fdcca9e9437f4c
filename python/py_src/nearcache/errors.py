"""The exceptions nearcache raises.

Every exception derives from :class:`NearcacheError`, whose ``code`` is the
error code shared by every nearcache language binding (``"NC_TIMEOUT"``, ...).
:class:`ConnectionError` and :class:`TimeoutError` also derive from the
builtins of the same name, and :class:`InvalidArgumentError` from
:class:`ValueError`, so existing ``except`` clauses keep working. An argument
of the wrong type raises :class:`ArgumentTypeError`, which is both an
:class:`InvalidArgumentError` and a :class:`TypeError` (``code`` is
``"NC_INVALID_ARGUMENT"``, as for every refused argument).
"""

from __future__ import annotations

import builtins

__all__ = [
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
]


class NearcacheError(Exception):
    """Base class of every nearcache error.

    ``code`` is the stable error code (``"NC_CONFIG"``, ``"NC_TIMEOUT"``, ...),
    set by the native module from the Rust core's error kind.
    """

    code: str = "NC_UNKNOWN"


class ConfigError(NearcacheError):
    """The configuration is invalid; the message starts with the field path
    (``l1.max_bytes: expected a size like "64MiB"``)."""


class ConnectionError(NearcacheError, builtins.ConnectionError):
    """Redis could not be reached, or the connection was lost."""


class TimeoutError(NearcacheError, builtins.TimeoutError):
    """Redis did not answer within ``redis.command_timeout`` / ``connect_timeout``."""


class AuthError(NearcacheError):
    """Redis refused the credentials (``WRONGPASS``, ``NOAUTH``, ``NOPERM``)."""


class RedisError(NearcacheError):
    """Redis answered with an error reply (``WRONGTYPE``, unknown command, ...)."""


class CodecError(NearcacheError):
    """A stored value carries nearcache's compression magic but a corrupt frame."""


class InvalidArgumentError(NearcacheError, ValueError):
    """An argument nearcache refuses: an empty or oversized key, an oversized
    value, a zero TTL, a raw command that would change the shared connection."""


class ArgumentTypeError(InvalidArgumentError, builtins.TypeError):
    """An argument of the wrong type (a key that is neither ``bytes`` nor
    ``str``, a ttl that is not a number or ``timedelta``, a loader that is not
    callable, ...). ``except TypeError`` catches it too."""

    code = "NC_INVALID_ARGUMENT"


class ClosedError(NearcacheError):
    """The cache was closed, or is used in a process forked after it was created."""


class LoaderError(NearcacheError):
    """The loader of ``get_or_load`` failed; the loader's own exception is
    ``__cause__``."""


class InternalError(NearcacheError):
    """A bug in nearcache (a Rust panic is reported as this, never a crash)."""


class TransactionAbortedError(NearcacheError):
    """An optimistic transaction's ``EXEC`` was aborted because a watched key
    changed, on every attempt ``redis.transaction_retries`` allowed (redis-py
    raises ``WatchError`` for one abort and retries without a bound)."""
