"""Renders bench/out/ (written by bench/report) into bench/REPORT.md and the
demo's chart, and copies the report's summary into the README.

    python bench/report.py OUTDIR REPORT.md CHART.png
    python bench/report.py --readme REPORT.md README.md

Every ratio is "how many times faster nearcache is": the peer's time per
operation divided by ours (for throughput, our ops/s divided by the peer's).
Above 1 nearcache wins; below 1 the peer does.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any, Optional

BEGIN = "<!-- bench/report:begin (generated from bench/REPORT.md by bench/report.py; do not edit) -->"
END = "<!-- bench/report:end -->"


def fmt_ns(ns: Optional[float]) -> str:
    if ns is None:
        return "-"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e4:
        return f"{ns / 1e3:.1f} us"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} us"
    return f"{ns:.0f} ns"


def fmt_rate(ns: Optional[float]) -> str:
    if not ns:
        return "-"
    ops = 1e9 / ns
    return f"{ops / 1e6:.2f} M/s" if ops >= 1e6 else f"{ops / 1e3:.1f} k/s"


def ratio(x: float) -> str:
    return f"{x:.2f}" if x >= 0.1 else f"{x:.2g}"


class Table:
    def __init__(self) -> None:
        self.rows: list[list[str]] = []

    def add(self, lang: str, what: str, ours_name: str, ours_ns: Optional[float], peer: str,
            peer_ns: Optional[float], throughput: bool = False) -> None:
        if ours_ns is None or peer_ns is None:
            return
        show = fmt_rate if throughput else fmt_ns
        self.rows.append([lang, what, f"{ours_name}: {show(ours_ns)}", f"{peer}: {show(peer_ns)}",
                          f"**{ratio(peer_ns / ours_ns)}x**"])

    def add_memory(self, mem: Any) -> None:
        """The L1 memory row: resident memory above the baseline against
        `max_bytes`; its last column is max_bytes / resident (above 1: L1
        stays under its bound)."""
        if not mem:
            return
        resident = mem["rss_peak"] - mem["rss_baseline"]
        self.rows.append(["Rust", "L1 resident memory under churn (peak VmRSS above baseline)",
                          f"resident: {resident / 2**20:.1f} MiB", f"`l1.max_bytes`: {mem['max_bytes'] / 2**20:.0f} MiB",
                          f"**{ratio(mem['max_bytes'] / resident) if resident > 0 else '-'}x**"])

    def render(self) -> str:
        head = ["language", "measurement", "nearcache", "peer", "nearcache faster by"]
        lines = ["| " + " | ".join(head) + " |", "| --- | --- | --- | --- | ---: |"]
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(lines)


def load(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def criterion(out: Path) -> dict[str, float]:
    """full_id -> mean ns per iteration, from criterion's JSON files."""
    means = {}
    for bench in (out / "criterion").glob("**/new/benchmark.json"):
        est = load(bench.parent / "estimates.json")
        meta = load(bench)
        if est and meta:
            means[meta["full_id"]] = est["mean"]["point_estimate"]
    return means


def row_ns(doc: Any, section: str, prefix: str) -> Optional[float]:
    for r in (doc or {}).get("rows", []):
        if r["section"].startswith(section) and r["name"].startswith(prefix):
            return float(r["ns_per_op"])
    return None


def demo_rows(text: str) -> list[dict[str, str]]:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("L1 hit rate") and i + 1 < len(lines) and lines[i + 1].startswith("---"):
            head = re.split(r"\s{2,}", line.strip())
            rows = []
            for data in lines[i + 2:]:
                if not data.strip():
                    break
                rows.append(dict(zip(head, re.split(r"\s{2,}", data.strip()))))
            return rows
    return []


def chart(rows: list[dict[str, str]], png: Path) -> bool:
    if not rows:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hit = [float(r["measured"].rstrip(" %")) for r in rows]
    mean = [float(r["avg us"]) for r in rows]
    naive = [float(r["naive us"]) for r in rows]
    p99 = [float(r["p99 us"]) for r in rows]
    load_ = [float(r["Redis cmds/read"]) for r in rows]
    fig, ax = plt.subplots(figsize=(7.5, 4.2), dpi=110)
    ax.plot(hit, mean, "o-", label="measured mean read (us)")
    ax.plot(hit, naive, "s--", label="naive: hit x rate + miss x (1 - rate)")
    ax.plot(hit, p99, "^:", label="measured p99 (us)")
    ax.set_xlabel("L1 hit rate (%)")
    ax.set_ylabel("read latency (us)")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax2 = ax.twinx()
    ax2.bar(hit, load_, width=2.5, alpha=0.25, color="gray", label="Redis commands per read")
    ax2.set_ylabel("Redis load (commands per read)")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper right", fontsize=8)
    ax.set_title("nearcache demo: Zipf reads, one thread, L1 sized to each hit rate")
    fig.tight_layout()
    fig.savefig(png)
    return True


class Targets:
    """The targets of the hot-path work (issue 17), each checked against this
    run's figures: met, missed, or not measured (a bench that did not run)."""

    def __init__(self) -> None:
        self.rows: list[list[str]] = []

    def check(self, row: str, target: str, measured: Optional[str], met: Optional[bool]) -> None:
        verdict = "not measured" if met is None else ("met" if met else "**missed**")
        self.rows.append([row, target, measured or "-", verdict])

    def render(self) -> str:
        lines = ["| row | target | measured | verdict |", "| --- | --- | --- | --- |"]
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(lines)


def ratio_target(targets: Targets, row: str, target: str, ours: Optional[float], peer: Optional[float],
                 at_most: float, show: Any = fmt_ns) -> None:
    """ours / peer <= at_most (times per operation)."""
    if ours is None or peer is None:
        targets.check(row, target, None, None)
        return
    targets.check(row, target, f"{show(ours)} vs {show(peer)}: {ours / peer:.2f}x", ours <= at_most * peer)


def hot_path_targets(c: Any, py: Any, nd: Any, cj: Any, mem: Any) -> Targets:
    tg = Targets()
    one = c("l1_hit/1000_keys/1_threads/nearcache")
    floor = c("l1_hit/1000_keys/1_threads/hashmap_rwlock")
    tg.check("Rust L1 hit, 1k keys, 1 thread (`with_local`)", "<= 31 ns", fmt_ns(one) if one else None,
             None if one is None else one <= 31)
    ratio_target(tg, "Rust L1 hit, 1k keys, 1 thread (`with_local`)", "<= 1.3x `RwLock<HashMap>`", one, floor, 1.3)
    ratio_target(tg, "Rust L1 hit, 1k hot keys, 2 threads", "per thread <= 1.2x the 1-thread figure",
                 c("l1_hit/1000_keys/2_threads/nearcache"), one, 1.2)
    ratio_target(tg, "Rust L1 hit, 100k keys", "<= 1.3x `RwLock<HashMap>`", c("l1_hit/100000_keys/1_threads/nearcache"),
                 c("l1_hit/100000_keys/1_threads/hashmap_rwlock"), 1.3)
    hit = row_ns(py, "hit", "nearcache Cache.get (bytes")
    tg.check("Python `Cache.get` hit (100 B)", "<= 120 ns", fmt_ns(hit) if hit else None,
             None if hit is None else hit <= 120)
    ratio_target(tg, "Python `Cache.get` hit (100 B)", "<= 2.5x `dict.get`", hit, row_ns(py, "hit", "dict.get"), 2.5)
    ratio_target(tg, "Python sync miss, 1 thread", ">= 0.95x redis-py (time <= 1/0.95)",
                 row_ns(py, "round trip", "nearcache"), row_ns(py, "round trip", "redis-py GET"), 1 / 0.95)
    local = row_ns(nd, "hit", "nearcache getLocal")
    ratio_target(tg, "Node `getLocal` hit (1 KiB)", "<= 0.1x node-redis client-side cache hit", local,
                 row_ns(nd, "hit", "node-redis"), 0.1)
    ratio_target(tg, "Node `getLocal` hit (1 KiB)", "or <= 1.3x the floor (`Map.get` + Buffer copy)", local,
                 row_ns(nd, "hit", "JS Map get + Buffer"), 1.3)
    ratio_target(tg, "Node single GET", ">= 1x ioredis", row_ns(nd, "miss", "nearcache"), row_ns(nd, "miss", "ioredis"), 1)
    ratio_target(tg, "Node 100-way, L1 off", ">= 1x node-redis", row_ns(nd, "concurrent", "nearcache get, L1 off"),
                 row_ns(nd, "concurrent", "node-redis"), 1)
    cget = (cj or {}).get("c_l1_hit_get_ns")
    ratio_target(tg, "C `nc_cache_get` hit", "<= 1.2x Rust", cget, (cj or {}).get("rust_l1_hit_get_ns"), 1.2)
    c_miss, raw_sync = (cj or {}).get("c_miss_1t_ops"), (cj or {}).get("raw_sync_miss_1t_ops")
    ratio_target(tg, "C blocking miss, 1 thread", ">= 0.95x raw redis-rs sync `Connection` (time <= 1/0.95)",
                 1e9 / c_miss if c_miss else None, 1e9 / raw_sync if raw_sync else None, 1 / 0.95)
    ratio_target(tg, "Rust blocking miss, 1 thread", ">= 0.95x raw redis-rs sync `Connection` (time <= 1/0.95)",
                 c("miss/nearcache_blocking"), c("miss/redis-rs_sync"), 1 / 0.95)
    resident = mem["rss_peak"] - mem["rss_baseline"] if mem else None
    ratio_target(tg, "L1 resident memory under churn", "within 15 % of `l1.max_bytes` (peak VmRSS above baseline)",
                 resident, mem["max_bytes"] if mem else None, 1.15, show=lambda b: f"{b / 2**20:.1f} MiB")
    return tg


def render(out: Path, report: Path, png: Path) -> None:
    t = Table()
    crit = criterion(out)
    c = crit.get
    t.add("Rust", "L1 hit (1k keys, 1 thread)", "get_local", c("l1_hit/1000_keys/1_threads/nearcache"),
          "`RwLock<HashMap>`", c("l1_hit/1000_keys/1_threads/hashmap_rwlock"))
    t.add("Rust", "L1 hit (1k keys, 1 thread)", "get_local", c("l1_hit/1000_keys/1_threads/nearcache"),
          "moka 0.12", c("l1_hit/1000_keys/1_threads/moka"))
    t.add("Rust", "L1 hit (1k keys, 2 threads)", "get_local", c("l1_hit/1000_keys/2_threads/nearcache"),
          "`RwLock<HashMap>`", c("l1_hit/1000_keys/2_threads/hashmap_rwlock"))
    t.add("Rust", "miss (one GET at a time, L1 off)", "get", c("miss/nearcache"), "redis-rs", c("miss/redis-rs"))
    t.add("Rust", "blocking miss (one GET at a time, L1 off)", "blocking::Cache::get", c("miss/nearcache_blocking"),
          "redis-rs sync `Connection`", c("miss/redis-rs_sync"))
    t.add("Rust", "100 concurrent GETs (L1 off)", "2 connections", c("concurrent_get_100/nearcache_2_connections"),
          "redis-rs", c("concurrent_get_100/redis-rs"), throughput=True)
    t.add("Rust", "100 concurrent GETs (L1 off)", "1 connection", c("concurrent_get_100/nearcache_1_connection"),
          "redis-rs", c("concurrent_get_100/redis-rs"), throughput=True)

    py = load(out / "python.json")
    ours = row_ns(py, "hit", "nearcache Cache.get (bytes")
    for peer, name in [("dict.get", "dict.get"), ("cachetools.TTLCache", "cachetools"),
                       ("redis-py client-side cache", "redis-py client-side"),
                       ("valkey-glide-sync client-side cache", "valkey-glide (sync) client-side")]:
        t.add("Python", "L1 hit (1k keys, 100 B)", "Cache.get", ours, peer, row_ns(py, "hit", name))
    ours = row_ns(py, "round trip", "nearcache")
    for peer, name in [("redis-py GET", "redis-py GET"), ("valkey-glide-sync GET", "valkey-glide (sync) GET")]:
        t.add("Python", "miss (one GET at a time, L1 off)", "Cache.get", ours, peer, row_ns(py, "round trip", name))
    for label, ours_name in [("AsyncCache, L1 hits", "nearcache AsyncCache.get (L1 hits)"),
                             ("AsyncCache, L1 off", "nearcache AsyncCache.get (L1 off)")]:
        ours = row_ns(py, "asyncio", ours_name)
        for peer, name in [("redis.asyncio GET", "redis.asyncio"), ("valkey-glide GET", "valkey-glide (async) GET")]:
            t.add("Python", "100 concurrent asyncio tasks", label, ours, peer, row_ns(py, "asyncio", name),
                  throughput=True)
    t.add("Python", "HGET hit (50 hashes, 100 B field)", "Cache.hget", row_ns(py, "HGET hit", "nearcache"),
          "redis-py client-side cache", row_ns(py, "HGET hit", "redis-py client-side"))
    for label, ours_name in [("L1 off", "nearcache pipeline, L1 off"), ("L1 on", "nearcache pipeline, L1 on")]:
        t.add("Python", "pipeline of 100 (50 HGET + 50 INCR)", label, row_ns(py, "pipeline", ours_name),
              "redis-py pipeline", row_ns(py, "pipeline", "redis-py pipeline"))

    nd = load(out / "node.json")
    # The floor of a hit that returns a Buffer of its own, measured in the same run (issue 17's target:
    # getLocal <= 1.3x this floor, or <= 0.1x node-redis's client-side cache hit).
    t.add("Node", "L1 hit (1k keys, 1 KiB)", "getLocal", row_ns(nd, "hit", "nearcache getLocal"),
          "floor: JS Map get + Buffer copy", row_ns(nd, "hit", "JS Map get + Buffer"))
    for ours_label, ours_name in [("getLocal", "nearcache getLocal"), ("await get", "nearcache await get")]:
        ours = row_ns(nd, "hit", ours_name)
        for peer, name in [("JS Map", "JS Map"), ("node-redis client-side cache", "node-redis")]:
            t.add("Node", "L1 hit (1k keys, 1 KiB)", ours_label, ours, peer, row_ns(nd, "hit", name))
    t.add("Node", "miss (one GET at a time, L1 off)", "get", row_ns(nd, "miss", "nearcache"), "ioredis",
          row_ns(nd, "miss", "ioredis"))
    for ours_label, ours_name in [("L1 hits", "nearcache get, L1 on"), ("L1 off", "nearcache get, L1 off")]:
        ours = row_ns(nd, "concurrent", ours_name)
        for peer, name in [("ioredis", "ioredis"), ("node-redis", "node-redis"), ("valkey-glide", "valkey-glide")]:
            t.add("Node", "100 concurrent GETs", ours_label, ours, peer, row_ns(nd, "concurrent", name),
                  throughput=True)
    t.add("Node", "HGET hit (50 hashes, 1 KiB field)", "await hget", row_ns(nd, "hget hit", "nearcache"),
          "node-redis client-side cache", row_ns(nd, "hget hit", "node-redis"))
    for label, ours_name in [("L1 off", "nearcache pipeline, L1 off"), ("L1 on", "nearcache pipeline, L1 on")]:
        t.add("Node", "pipeline of 100 (50 HGET + 50 INCR)", label, row_ns(nd, "pipeline", ours_name),
              "ioredis pipeline", row_ns(nd, "pipeline", "ioredis"))

    cj = load(out / "c.json")
    if cj:
        t.add("C", "L1 hit (1k keys, 1 KiB)", "nc_cache_get", cj["c_l1_hit_get_ns"], "Rust blocking::Cache::get",
              cj["rust_l1_hit_get_ns"])
        t.add("C", "miss throughput, 1 thread (L1 off)", "nc_cache_get", 1e9 / cj["c_miss_1t_ops"], "Rust blocking",
              1e9 / cj["rust_miss_1t_ops"], throughput=True)
        if cj.get("raw_sync_miss_1t_ops"):
            t.add("C", "miss throughput, 1 thread (L1 off)", "nc_cache_get", 1e9 / cj["c_miss_1t_ops"],
                  "redis-rs sync `Connection`", 1e9 / cj["raw_sync_miss_1t_ops"], throughput=True)
        t.add("C", "miss throughput, 8 threads (L1 off)", "nc_cache_get", 1e9 / cj["c_miss_8t_ops"], "Rust blocking",
              1e9 / cj["rust_miss_8t_ops"], throughput=True)

    cli = load(out / "cli.json")
    if cli:
        t.add("CLI", "L1 hit (`nearcache bench`)", "get_local", cli["l1_hit"]["nearcache_ns"], "`RwLock<HashMap>`",
              cli["l1_hit"]["hashmap_rwlock_ns"])
        t.add("CLI", "miss (`nearcache bench`)", "async get", cli["miss"]["nearcache_async"]["mean_us"] * 1e3,
              "redis-rs", cli["miss"]["redis_rs"]["mean_us"] * 1e3)
        t.add("CLI", "100 concurrent GETs (`nearcache bench`)", "get", 1e9 / cli["concurrent_get_100"]["nearcache_ops_per_s"],
              "redis-rs", 1e9 / cli["concurrent_get_100"]["redis_rs_ops_per_s"], throughput=True)

    mem = load(out / "memory.json")
    t.add_memory(mem)

    demo_text = (out / "demo.txt").read_text() if (out / "demo.txt").exists() else ""
    drows = demo_rows(demo_text)
    has_chart = chart(drows, png)
    machine = (out / "machine.txt").read_text().strip()
    loads = re.findall(r"^load (before|after): ([\d.]+)", machine, re.M)
    busy = any(float(value) > 0.5 for _, value in loads)

    parts = [
        "# nearcache benchmark report",
        "",
        "Generated by `bench/report` (one command; not part of `make test`): every benchmark of the",
        "project in one run against one launched redis-server. Raw outputs are in `bench/out/` after a run.",
        "",
        "```text",
        machine,
        "```",
        "",
    ]
    failures = out / "failures.txt"
    if failures.exists():
        parts += ["**Benches that failed in this run** (their rows are missing from the table):", "",
                  "```text", failures.read_text().strip(), "```", ""]
    if busy:
        # Facts only: what was measured, not a guess at what caused it.
        parts += ["**Load during this run:** the 1-minute load average was above 0.5 "
                  + ", ".join(f"{when} the run ({value})" for when, value in loads if float(value) > 0.5)
                  + ";", "the CPU use and the busiest processes sampled before and after are above; nothing was",
                  "sampled in between.", ""]
    parts += [
        "## Summary",
        "",
        "\"nearcache faster by\" is the peer's time per operation divided by nearcache's (for throughput,",
        "nearcache's ops/s divided by the peer's): above 1 nearcache wins. A hit is a read answered from",
        "process memory; a miss is one GET round trip to Redis with the L1 off; throughput rows keep 100",
        "reads in flight.",
        "",
        t.render(),
        "",
        "## Hot-path targets",
        "",
        "The targets of the hot-path work, checked against this run (times per operation; a ratio is",
        "nearcache's time over the reference's).",
        "",
        hot_path_targets(c, py, nd, cj, mem).render(),
        "",
        "## Hit rate vs latency (`nearcache demo`)",
        "",
    ]
    if has_chart:
        parts += [f"![hit rate vs latency]({png.name})", ""]
    parts += ["```text", demo_text.strip(), "```", ""]
    for name, title in [("python.txt", "Python bench"), ("node.txt", "Node bench"), ("c.txt", "C bench"),
                        ("memory.txt", "L1 resident memory under churn (core/benches/l1_memory.rs)"),
                        ("criterion.txt", "Rust criterion (l1_hit, redis_path)")]:
        f = out / name
        if f.exists():
            text = f.read_text()
            if name == "criterion.txt":
                lines = text.splitlines()
                keep = [line for i, line in enumerate(lines)
                        if "time:" in line or "thrpt:" in line
                        or (i + 1 < len(lines) and lines[i + 1].lstrip().startswith("time:"))]
                text = "\n".join(keep)
            parts += [f"## {title}", "", "```text", text.strip(), "```", ""]
    report.write_text("\n".join(parts))


def readme(report: Path, readme_path: Path) -> None:
    text = report.read_text()
    end = text.index("## Hot-path targets") if "## Hot-path targets" in text else text.index("## Hit rate")
    summary = text[text.index("## Summary"):end].split("\n", 1)[1].strip()
    machine = text[text.index("```text") + 8:text.index("```", text.index("```text") + 8)].strip()
    when = re.search(r"^date: (.*)$", machine, re.M)
    commit = re.search(r"^commit: (.*)$", machine, re.M)
    load_ = re.search(r"^load before: (.*)$", machine, re.M)
    block = "\n".join([
        BEGIN,
        f"From [`bench/REPORT.md`](bench/REPORT.md) (`bench/report`, {when.group(1) if when else '?'}, commit "
        f"{commit.group(1) if commit else '?'}, load average {load_.group(1) if load_ else '?'} before the run; "
        "the report has the machine, every raw output and the hit-rate chart).",
        "",
        summary,
        END,
    ])
    old = readme_path.read_text()
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + block + old[old.index(END) + len(END):]
    else:
        anchor = "## Performance\n"
        if anchor not in old:
            raise SystemExit(f"{readme_path}: no '## Performance' section and no markers")
        new = old.replace(anchor, anchor + "\n" + block + "\n", 1)
    readme_path.write_text(new)


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[1] == "--readme":
        readme(Path(argv[2]), Path(argv[3]))
        return 0
    if len(argv) == 4:
        render(Path(argv[1]), Path(argv[2]), Path(argv[3]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
