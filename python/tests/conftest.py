"""Fixtures and helpers shared by the test files: one throwaway
redis-server per test session, started by the shared launcher
(tests/redis-launcher: a free loopback port, never 6379), cache factories,
an event-loop runner, a fork runner and polling loops."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis

import nearcache

LAUNCHER = Path(__file__).resolve().parents[2] / "tests" / "redis-launcher"
T = TypeVar("T")


class Server:
    """A launcher process and the server it started."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [str(LAUNCHER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        fields = {}
        for _ in range(2):
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"redis-launcher exited with {self.proc.wait()} before printing url/pid")
            name, _, value = line.strip().partition("=")
            fields[name] = value
        self.url = fields["url"]
        self.pid = int(fields["pid"])

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()  # EOF: the launcher stops the server
        self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def url(server: Server) -> str:
    return server.url


@pytest.fixture
def raw(url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(url)
    yield client
    client.close()


@pytest.fixture
def ns() -> str:
    """A key prefix unique to the test."""
    return f"t:{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def cache(url: str) -> Iterator[nearcache.Cache]:
    c = nearcache.Cache(url)
    yield c
    c.close()


@pytest.fixture
def ttl_cache(url: str) -> Iterator[nearcache.Cache]:
    """A cache in `ttl` invalidation mode (no server help: L1 serves until its TTL)."""
    c = nearcache.Cache(url, l1={"invalidation": "ttl"})
    yield c
    c.close()


def run_async(url: str, body: Callable[[nearcache.AsyncCache], Awaitable[T]], **options: Any) -> T:
    """Runs ``body(cache)`` in a fresh event loop with an AsyncCache on ``url``."""

    async def main() -> T:
        async with nearcache.AsyncCache(url, **options) as c:
            return await body(c)

    return asyncio.run(main())


def in_forked_child(child: Callable[[], str]) -> str:
    """Runs ``child`` in a forked process and returns the string it returned
    (or ``"error:Type:message"`` if it raised), read back through a pipe."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            try:
                msg = child()
            except BaseException as e:  # noqa: BLE001 - reported to the parent
                msg = f"error:{type(e).__name__}:{e}"
            os.write(w, msg.encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        msg = f.read().decode()
    os.waitpid(pid, 0)
    return msg


def wait_until(done: Callable[[], bool], what: str, within: float = 2.0) -> None:
    """Polls ``done`` until it is true; fails the test after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not done():
        assert time.monotonic() < deadline, f"{what} did not happen within {within} s"
        time.sleep(0.005)


async def eventually(done: Callable[[], Awaitable[bool]], what: str, within: float = 2.0) -> None:
    """``wait_until`` for a coroutine predicate, yielding to the loop between polls."""
    deadline = time.monotonic() + within
    while not await done():
        assert time.monotonic() < deadline, f"{what} did not happen within {within} s"
        await asyncio.sleep(0.005)
