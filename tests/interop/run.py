#!/usr/bin/env python3
"""Cross-language interop and consistency runs (issue 9), against one
redis-server from tests/redis-launcher (NEARCACHE_REDIS_SERVER picks the
binary, so the same run works on Valkey).

    python tests/interop/run.py [interop] [consistency] [--keep]

interop: one writer per language (interop.py, interop.js, interop.c) writes
every case of a seeded case list under its own prefix, through nearcache with
the case's compression config; a raw client (redis-py, no nearcache) writes
the same values under a fourth prefix, escaping values that start with the
frame magic the way the frame format says a foreign writer must. Then the raw
bytes in Redis are checked (identical for the three languages, plain or a
well-formed frame as the config asks) and each language reads every key of
all four prefixes (miss, L1 hit, and get_many) and compares with the
expected bytes.

consistency: readers in the three languages read a hot key set through a
nearcache cache for a bounded time while a writer outside nearcache writes
versioned values (1, 2, 3, ... per key) and records when each write was
acknowledged. A read that started at t and returned version v is stale by
t - ack(v + 1); more than max_staleness + slack is a violation (the rule of
core/src/testing/consistency.rs). It runs twice: in the default `tracking`
mode (must report zero violations) and, as a test of the checker itself, in
`ttl` mode with a 60 s L1 TTL (must report violations for every language).

Needs: the Python package importable by this interpreter (with redis-py), the
Node addon built (node/nearcache.node), and a C compiler; it builds the C
library into a temporary prefix itself unless NC_PREFIX names an installed
one.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import redis

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
MAGIC = b"\x00NC"
ALGO_IDS = {"none": None, "lz4": 1, "zstd": 2}

# --- the server --------------------------------------------------------------


class Server:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [str(ROOT / "tests" / "redis-launcher")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        fields = {}
        for _ in range(2):
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit(f"redis-launcher exited with {self.proc.wait()} before printing url/pid")
            name, _, value = line.strip().partition("=")
            fields[name] = value
        self.url = fields["url"]

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


# --- the three programs --------------------------------------------------------


def build_c(work: Path) -> Path:
    """Compiles interop.c against libnearcache (NC_PREFIX, or a fresh install into `work`)."""
    prefix = os.environ.get("NC_PREFIX")
    if not prefix:
        prefix = str(work / "prefix")
        subprocess.run(["make", "-s", "-C", str(ROOT / "bindings" / "c"), "install", f"PREFIX={prefix}"], check=True,
                       stdout=subprocess.DEVNULL)
    env = dict(os.environ, PKG_CONFIG_PATH=f"{prefix}/lib/pkgconfig")
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "nearcache"], env=env, check=True,
                           capture_output=True, text=True).stdout.split()
    libdir = subprocess.run(["pkg-config", "--variable=libdir", "nearcache"], env=env, check=True,
                            capture_output=True, text=True).stdout.strip()
    exe = work / "interop-c"
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", str(HERE / "interop.c"), "-o", str(exe),
                    *flags, f"-Wl,-rpath,{libdir}"], check=True)
    return exe


def programs(c_exe: Path) -> dict[str, list[str]]:
    node_addon = ROOT / "node" / "nearcache.node"
    if not node_addon.exists():
        raise SystemExit(f"{node_addon} is missing: build it first (cd node && node scripts/build.js)")
    return {
        "python": [sys.executable, str(HERE / "interop.py")],
        "node": ["node", str(HERE / "interop.js")],
        "c": [str(c_exe)],
    }


# --- interop -------------------------------------------------------------------


def make_cases(seed: int = 9) -> list[tuple[str, str, int, bytes, str]]:
    """(name, algorithm, min_size, value, expected storage): storage is `plain`,
    `escaped`, `lz4` or `zstd` (what a nearcache writer must put in Redis)."""
    rng = random.Random(seed)
    words = [rng.choice(["alpha", "beta", "gamma", "delta", "user", "name", "id", "\u00e9t\u00e9"]) for _ in range(64)]
    doc = json.dumps([{"id": i, "w": rng.choice(words), "score": rng.randrange(10000)} for i in range(3000)]).encode()
    noise = rng.randbytes(256 * 1024)
    nul_small = bytes(rng.choice([0, 0, 1, 255, 78, 67]) for _ in range(300))
    return [
        ("small", "lz4", 1024, b"hello, interop", "plain"),
        ("empty", "lz4", 1024, b"", "plain"),
        ("empty_min0", "zstd", 0, b"", "plain"),
        ("utf8", "lz4", 1024, "h\u00e9llo w\u00f6rld \u2713".encode(), "plain"),
        ("nul_small", "lz4", 1024, nul_small, "plain"),
        ("nul_only", "lz4", 1024, b"\x00" * 17, "plain"),
        ("below_min_size", "zstd", 4096, doc[:4095], "plain"),
        ("lz4_at_min_size", "lz4", 1024, doc[:1024], "lz4"),
        ("lz4_json_64k", "lz4", 1024, doc[:65536], "lz4"),
        ("zstd_json_64k", "zstd", 1024, doc[:65536], "zstd"),
        ("zstd_large", "zstd", 1024, doc * 8, "zstd"),
        ("lz4_zeros_nul", "lz4", 1024, b"\x00\x01" + b"\x00" * 20000, "lz4"),
        ("zstd_zeros_nul", "zstd", 1024, b"\x00\x01" + b"\x00" * 20000, "zstd"),
        ("incompressible_large", "lz4", 1024, noise, "plain"),
        ("none_large", "none", 1024, doc[:20000], "plain"),
        ("magic_only", "lz4", 1024, MAGIC, "escaped"),
        ("magic_small", "lz4", 1024, MAGIC + b"\x01\x05\x00\x00\x00hello", "escaped"),
        ("magic_none_large", "none", 1024, MAGIC + doc[:5000], "escaped"),
        ("magic_lz4_large", "lz4", 1024, MAGIC + doc[:5000], "lz4"),
        ("magic_zstd_large", "zstd", 1024, MAGIC + doc[:5000], "zstd"),
        ("magic_incompressible", "zstd", 1024, MAGIC + noise[:5000], "escaped"),
        ("partial_magic", "lz4", 1024, b"\x00N", "plain"),
    ]


def escaped(value: bytes) -> bytes:
    return MAGIC + b"\x00" + len(value).to_bytes(4, "little") + value


def check_raw(client: redis.Redis, cases: list, prefixes: dict[str, str]) -> list[str]:
    """What three nearcache writers stored, checked byte by byte against the frame format."""
    problems = []
    for name, algorithm, _min_size, value, storage in cases:
        stored = {lang: client.get(prefix + name) for lang, prefix in prefixes.items()}
        if len(set(stored.values())) != 1:
            sizes = {lang: None if s is None else len(s) for lang, s in stored.items()}
            problems.append(f"{name}: the languages stored different bytes: {sizes}")
            continue
        raw = next(iter(stored.values()))
        if raw is None:
            problems.append(f"{name}: missing")
        elif storage == "plain" and raw != value:
            problems.append(f"{name}: expected the value as is, got {raw[:12].hex()}")
        elif storage == "escaped" and raw != escaped(value):
            problems.append(f"{name}: expected the escaped frame, got {raw[:12].hex()}")
        elif storage in ("lz4", "zstd"):
            header_ok = raw[:3] == MAGIC and raw[3] == ALGO_IDS[storage]
            if not header_ok or int.from_bytes(raw[4:8], "little") != len(value) or len(raw) >= len(value):
                problems.append(f"{name}: expected a smaller {storage} frame of {len(value)} bytes, got {raw[:12].hex()}")
    return problems


def run_interop(url: str, progs: dict[str, list[str]], work: Path) -> bool:
    cases = make_cases()
    cases_file = work / "cases.txt"
    cases_file.write_text(
        "".join(f"{n} {a} {m} {v.hex() if v else '-'}\n" for n, a, m, v, _ in cases)
    )
    prefixes = {lang: f"interop:{lang}:" for lang in progs}
    ok = True
    for lang, cmd in progs.items():
        t = time.monotonic()
        r = subprocess.run([*cmd, "write", url, prefixes[lang], str(cases_file)], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"interop: {lang} writer failed ({r.returncode}):\n{r.stdout}{r.stderr}")
            return False
        print(f"interop: {lang} wrote {len(cases)} cases ({time.monotonic() - t:.1f} s)")
    client = redis.Redis.from_url(url)
    problems = check_raw(client, cases, prefixes)
    for p in problems:
        print(f"interop: raw check: {p}")
    ok &= not problems
    print(f"interop: raw bytes of {len(cases)} cases x {len(prefixes)} writers: {len(problems)} problems")
    # A foreign writer stores plain values; one starting with the magic must be escaped.
    for name, _, _, value, _ in cases:
        client.set(f"interop:raw:{name}", escaped(value) if value.startswith(MAGIC) else value)
    client.close()
    all_prefixes = [*prefixes.values(), "interop:raw:"]
    for lang, cmd in progs.items():
        r = subprocess.run([*cmd, "read", url, str(cases_file), *all_prefixes], capture_output=True, text=True)
        sys.stdout.write("".join(f"interop: {line}\n" for line in (r.stdout + r.stderr).splitlines()))
        if r.returncode != 0:
            ok = False
            print(f"interop: {lang} reader failed ({r.returncode})")
    return ok


# --- consistency ---------------------------------------------------------------


def run_consistency(url: str, progs: dict[str, list[str]], work: Path, label: str, settings: list[str],
                    seconds: float, bound_ms: float, expect_stale: bool) -> bool:
    nkeys = 8
    keyprefix = f"cons:{label}:"
    client = redis.Redis.from_url(url)
    acks: list[list[int]] = [[0] for _ in range(nkeys)]  # acks[k][v] = ack time of version v (index 0 unused)
    for k in range(nkeys):
        client.set(f"{keyprefix}{k}", 1)
        acks[k].append(time.time_ns())
    procs = {}
    for lang, cmd in progs.items():
        out = work / f"{label}-{lang}.reads"
        procs[lang] = (out, subprocess.Popen(
            [*cmd, "watch", url, keyprefix, str(nkeys), str(seconds), "400000", str(out), *settings],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    for lang, (_, p) in procs.items():
        assert p.stdout is not None
        line = p.stdout.readline()
        if line.strip() != "ready":
            print(f"consistency[{label}]: {lang} watcher did not start: {line!r}")
            for _, other in procs.values():
                other.kill()
                other.wait()
            return False
    stop = threading.Event()

    def writer() -> None:
        # Outside nearcache: plain SETs, each ack time taken after the reply (so
        # recorded acks are late, never early: the checker errs towards lenient).
        versions = [1] * nkeys
        k = 0
        while not stop.is_set():
            versions[k] += 1
            client.set(f"{keyprefix}{k}", versions[k])
            acks[k].append(time.time_ns())
            k = (k + 1) % nkeys
            time.sleep(0.002)

    w = threading.Thread(target=writer)
    w.start()
    for _, p in procs.values():
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    summaries = {}
    for lang, (_, p) in procs.items():
        try:
            out, _ = p.communicate(timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        summaries[lang] = (p.returncode, out.strip())
    stop.set()
    w.join()
    client.close()
    writes = sum(len(a) - 1 for a in acks)
    bound_ns = bound_ms * 1e6
    ok = True
    print(f"consistency[{label}]: {' '.join(settings)}; {writes} writes to {nkeys} keys over {seconds} s; "
          f"bound {bound_ms:.0f} ms")
    for lang, (out_file, _) in procs.items():
        code, summary = summaries[lang]
        reads = stale = 0
        worst = 0
        seen = set()
        examples = []
        for line in out_file.read_text().splitlines() if out_file.exists() else []:
            k, v, started = (int(x) for x in line.split())
            reads += 1
            seen.add((k, v))
            newer = v + 1
            if newer < len(acks[k]):
                staleness = started - acks[k][newer]
                worst = max(worst, staleness)
                if staleness > bound_ns:
                    stale += 1
                    if len(examples) < 3:
                        examples.append(f"key {k} version {v}, {staleness / 1e6:.1f} ms after version {newer} was acked")
        print(f"consistency[{label}]: {lang}: {reads} reads, {len(seen)} distinct (key, version), "
              f"{stale} stale beyond the bound, largest staleness {max(worst, 0) / 1e6:.1f} ms  [{summary}]")
        for e in examples:
            print(f"consistency[{label}]:   e.g. {e}")
        if code != 0 or reads < 100:
            print(f"consistency[{label}]: {lang} watcher failed (exit {code}, {reads} reads)")
            ok = False
        elif expect_stale and stale == 0:
            print(f"consistency[{label}]: {lang}: expected stale reads (the checker must catch a stale L1), saw none")
            ok = False
        elif not expect_stale and (stale > 0 or len(seen) < 2 * nkeys):
            print(f"consistency[{label}]: {lang}: FAILED ({stale} stale reads; {len(seen)} versions seen)")
            ok = False
    return ok


def main(argv: list[str]) -> int:
    wanted = [a for a in argv[1:] if not a.startswith("--")] or ["interop", "consistency"]
    work = Path(tempfile.mkdtemp(prefix="nearcache-interop."))
    server = Server()
    print(f"interop: server {server.url} ({os.environ.get('NEARCACHE_REDIS_SERVER', 'redis-server')})")
    ok = True
    try:
        progs = programs(build_c(work))
        if "interop" in wanted:
            ok &= run_interop(server.url, progs, work)
        if "consistency" in wanted:
            # The documented bound of `tracking`: l1.max_staleness after the ack.
            ok &= run_consistency(server.url, progs, work, "tracking",
                                  ["l1.invalidation=tracking", "l1.max_staleness=500ms",
                                   "l1.health_interval=100ms"], seconds=10,
                                  bound_ms=500 + 100, expect_stale=False)
            # The checker's own test: a 60 s TTL-only L1 must be caught serving old versions.
            ok &= run_consistency(server.url, progs, work, "ttl-control",
                                  ["l1.invalidation=ttl", "l1.ttl=60s"], seconds=3,
                                  bound_ms=500 + 100, expect_stale=True)
    finally:
        server.stop()
        if "--keep" in argv:
            print(f"interop: files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("interop: ok" if ok else "interop: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
