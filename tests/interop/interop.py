"""The Python side of the interop and consistency runs (driven by run.py).

    interop.py write URL PREFIX CASES          write every case under PREFIX
    interop.py read URL CASES PREFIX...        read every case under each PREFIX
    interop.py watch URL KEYPREFIX NKEYS SECONDS MAXREADS OUT [path=value...]

CASES has one case a line: `name algorithm min_size hex` (`-` for an empty
value). `watch` reads KEYPREFIX0..NKEYS-1 in a loop through a cache built
with the given config settings and writes `key version start_ns` lines to OUT
(version 0 = absent); the node and C programs speak the same protocol.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import nearcache


def load_cases(path: str) -> list[tuple[str, str, int, bytes]]:
    cases = []
    with open(path) as f:
        for line in f:
            name, algorithm, min_size, hexval = line.split()
            cases.append((name, algorithm, int(min_size), b"" if hexval == "-" else bytes.fromhex(hexval)))
    return cases


def options(settings: list[str]) -> dict[str, Any]:
    """`a.b=v` settings as the config tree; `v` is JSON when it parses, else a string (as nc_config_set)."""
    tree: dict[str, Any] = {}
    for setting in settings:
        path, _, text = setting.partition("=")
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        *parents, leaf = path.split(".")
        node = tree
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return tree


def write(url: str, prefix: str, cases_path: str) -> int:
    caches: dict[tuple[str, int], nearcache.Cache] = {}
    for name, algorithm, min_size, value in load_cases(cases_path):
        cfg = (algorithm, min_size)
        if cfg not in caches:
            caches[cfg] = nearcache.Cache(url, compression={"algorithm": algorithm, "min_size": min_size})
        caches[cfg].set(prefix + name, value)
    for c in caches.values():
        c.close()
    return 0


def read(url: str, cases_path: str, prefixes: list[str]) -> int:
    cases = load_cases(cases_path)
    failures = 0
    with nearcache.Cache(url) as cache:
        for prefix in prefixes:
            keys = [prefix + name for name, *_ in cases]
            for round_ in ("miss", "hit"):
                for key, (_, _, _, want) in zip(keys, cases):
                    try:
                        got = cache.get(key)
                    except nearcache.NearcacheError as e:
                        failures += 1
                        print(f"python read {key!r} ({round_}): {e.code}: {e}")
                        continue
                    if got != want:
                        failures += 1
                        print(f"python read {key!r} ({round_}): got {describe(got)}, want {describe(want)}")
            cache.invalidate_local_all()
            try:
                many = cache.get_many(keys)
            except nearcache.NearcacheError as e:
                failures += 1
                print(f"python get_many under {prefix!r}: {e.code}: {e}")
                continue
            for key, got, (_, _, _, want) in zip(keys, many, cases):
                if got != want:
                    failures += 1
                    print(f"python get_many {key!r}: got {describe(got)}, want {describe(want)}")
    print(f"python reader: {len(cases) * len(prefixes)} keys, {failures} mismatches")
    return 1 if failures else 0


def describe(v: bytes | None) -> str:
    return "None" if v is None else f"{len(v)} bytes {v[:12].hex()}"


def watch(url: str, keyprefix: str, nkeys: int, seconds: float, maxreads: int, out: str, settings: list[str]) -> int:
    cache = nearcache.Cache(url, **options(settings))
    cache.connect()
    keys = [f"{keyprefix}{i}" for i in range(nkeys)]
    print("ready", flush=True)
    sys.stdin.readline()  # the driver says go once its writer runs
    reads: list[str] = []
    errors = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(reads) < maxreads:
        for i, key in enumerate(keys):
            started = time.time_ns()
            try:
                v = cache.get(key)
            except nearcache.NearcacheError:
                errors += 1
                continue
            reads.append(f"{i} {int(v) if v is not None else 0} {started}\n")
        time.sleep(0.001)
    stats = cache.stats()
    cache.close()
    with open(out, "w") as f:
        f.writelines(reads)
    print(
        f"python watcher: {len(reads)} reads, {errors} errors, "
        f"l1_hits {stats.get('l1_hits')}, l1_misses {stats.get('l1_misses')}"
    )
    return 0


def main(argv: list[str]) -> int:
    mode = argv[1]
    if mode == "write":
        return write(argv[2], argv[3], argv[4])
    if mode == "read":
        return read(argv[2], argv[3], argv[4:])
    if mode == "watch":
        return watch(argv[2], argv[3], int(argv[4]), float(argv[5]), int(argv[6]), argv[7], argv[8:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
