"""The examples test (`make examples-test`): both example services against one
throwaway redis-server, sharing examples/nearcache.toml.

1. starts a redis-server (tests/redis-launcher) and both services on free
   loopback ports (each prints the port it bound);
2. a session written through one service is read through the other, both
   ways;
3. a short load run against each service in turn (a fixed number of product
   reads over a skewed key set, bounded in count and time) prints its L1 hit
   rate and the Redis commands/s the server counted during the run;
4. stops the services and the server by PID.

Stdlib only. Exits non-zero when a step fails; the numbers are printed, not
asserted (they depend on the machine), apart from the L1 having served reads.

    .venv/bin/python examples/run.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEADLINE = time.monotonic() + 50  # the whole run, start to stop


def start(cmd: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        raise SystemExit(f"{cmd[-1]} did not start: {line!r} (exit {proc.wait()})")
    return proc, line.removeprefix("listening on ")


def call(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as e:
        return e.code, None


def redis_commands(url: str) -> int:
    """total_commands_processed from INFO stats, over a raw RESP connection."""
    import socket

    host, port = url.removeprefix("redis://").split(":")
    with socket.create_connection((host, int(port.split("/")[0])), timeout=5) as s:
        s.sendall(b"*2\r\n$4\r\nINFO\r\n$5\r\nstats\r\n")
        data = b""
        while b"\r\n" not in data or len(data.partition(b"\r\n")[2]) < int(data.partition(b"\r\n")[0][1:]) + 2:
            chunk = s.recv(65536)
            if not chunk:
                raise SystemExit("redis closed the connection during INFO")
            data += chunk
    for line in data.decode().splitlines():
        if line.startswith("total_commands_processed:"):
            return int(line.split(":")[1])
    raise SystemExit("INFO stats has no total_commands_processed")


def load(name: str, base: str, url: str, requests: int) -> None:
    rng = random.Random(7)
    before_stats = call(base, "GET", "/stats")[1]
    before = redis_commands(url)
    started = time.monotonic()
    done = 0
    for _ in range(requests):
        n = min(int(rng.paretovariate(1.2)), 500)  # a few hot products, a long tail
        status, body = call(base, "GET", f"/products/{n}")
        assert status == 200 and body["id"] == str(n), (status, body)
        done += 1
        if time.monotonic() > DEADLINE - 15:
            break
    elapsed = time.monotonic() - started
    commands = redis_commands(url) - before - 1  # minus our own INFO
    after = call(base, "GET", "/stats")[1]
    hits = after["l1_hits"] - before_stats["l1_hits"]
    misses = after["l1_misses"] - before_stats["l1_misses"]
    rate = hits / max(hits + misses, 1)
    print(
        f"{name:>6}: {done} reads in {elapsed:.2f} s, L1 hit rate {rate:.1%}, "
        f"Redis {commands / elapsed:.0f} commands/s ({commands / max(done, 1):.3f} per read)"
    )
    assert hits > 0, f"{name}: L1 served no read"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    launcher = subprocess.Popen([str(ROOT / "tests" / "redis-launcher")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    procs: list[subprocess.Popen[str]] = []
    try:
        assert launcher.stdout is not None
        fields = dict(launcher.stdout.readline().strip().split("=", 1) for _ in range(2))
        url = fields["url"]
        env = {**os.environ, "NEARCACHE_CONFIG": str(HERE / "nearcache.toml"), "NEARCACHE_URL": url}
        py, py_base = start([sys.executable, str(HERE / "python-service" / "app.py")], env)
        procs.append(py)
        node, node_base = start(["node", str(HERE / "node-service" / "server.js")], env)
        procs.append(node)
        print(f"redis {url}; python service {py_base}; node service {node_base}")

        for writer, w_base, reader, r_base in (("python", py_base, "node", node_base), ("node", node_base, "python", py_base)):
            status, made = call(w_base, "POST", "/sessions", {"user": f"ada-{writer}"})
            assert status == 201 and made["by"] == writer, (status, made)
            status, session = call(r_base, "GET", f"/sessions/{made['id']}")
            assert status == 200 and session == {"user": f"ada-{writer}", "by": writer}, (status, session)
            print(f"session written by {writer}, read by {reader}: {session}")
        assert call(py_base, "GET", "/sessions/nosuch")[0] == 404

        load("python", py_base, url, args.requests)
        load("node", node_base, url, args.requests)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        if launcher.stdin is not None:
            launcher.stdin.write("stop\n")
            launcher.stdin.flush()
        launcher.wait(10)


if __name__ == "__main__":
    main()
