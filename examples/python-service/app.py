"""A small WSGI service on nearcache (stdlib only: wsgiref).

    NEARCACHE_CONFIG=examples/nearcache.toml python examples/python-service/app.py [PORT]

Routes (the same as examples/node-service/server.js, so that either service
reads what the other wrote):

    POST /sessions            body: JSON {"user": ...}; creates session:<id>,
                              answers {"id": ..., "by": "python"}
    GET  /sessions/<id>       the session's JSON, or 404
    GET  /products/<n>        a product read through the cache (get_or_load:
                              built once, then served from L1)
    GET  /stats               {"l1_hits": ..., "l1_misses": ...}

Port 0 (the default) picks a free loopback port; the first line on stdout is
``listening on http://127.0.0.1:PORT``.
"""

from __future__ import annotations

import json
import secrets
import signal
import sys
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import nearcache

cache = nearcache.Cache.from_env()  # NEARCACHE_CONFIG, then NEARCACHE_URL
SESSION_TTL = 3600  # seconds


def product(n: str) -> bytes:
    """What a product page would cost to build (a database query, say)."""
    return json.dumps({"id": n, "name": f"product {n}", "price": int(n) * 3 % 100}).encode()


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
    parts = path.strip("/").split("/")

    def reply(status: str, body: bytes, kind: str = "application/json") -> list[bytes]:
        start_response(status, [("Content-Type", kind), ("Content-Length", str(len(body)))])
        return [body]

    if method == "POST" and parts == ["sessions"]:
        size = int(environ.get("CONTENT_LENGTH") or 0)
        data = json.loads(environ["wsgi.input"].read(size) or b"{}")
        sid = secrets.token_hex(8)
        cache.set_json(f"session:{sid}", {"user": data.get("user"), "by": "python"}, ttl=SESSION_TTL)
        return reply("201 Created", json.dumps({"id": sid, "by": "python"}).encode())
    if method == "GET" and len(parts) == 2 and parts[0] == "sessions":
        value = cache.get(f"session:{parts[1]}")
        return reply("200 OK", value) if value is not None else reply("404 Not Found", b"{}")
    if method == "GET" and len(parts) == 2 and parts[0] == "products" and parts[1].isdigit():
        return reply("200 OK", cache.get_or_load(f"product:{parts[1]}", lambda: product(parts[1]), ttl=300))
    if method == "GET" and parts == ["stats"]:
        s = cache.stats()
        return reply("200 OK", json.dumps({"l1_hits": s["l1_hits"], "l1_misses": s["l1_misses"]}).encode())
    return reply("404 Not Found", b"{}")


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    # SIGTERM (how the examples test stops it): leave serve_forever, close.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with make_server("127.0.0.1", port, app, handler_class=QuietHandler) as server:
        print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
        try:
            server.serve_forever()
        finally:
            cache.close()


if __name__ == "__main__":
    main()
