"""Fixtures: one throwaway redis-server per test session, started by the
shared launcher (tests/redis-launcher: a free loopback port, never 6379)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

import nearcache

LAUNCHER = Path(__file__).resolve().parents[2] / "tests" / "redis-launcher"


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
