#!/usr/bin/env bash
# C vs Rust, same run, same machine, same redis-server (tests/redis-launcher):
# the L1 hit through libnearcache (bench.c, linked like any C program via
# pkg-config, -O2) beside blocking::Cache in Rust (bench_rust.rs), and the
# miss throughput of both. The two programs alternate (C, Rust, C, Rust) and
# each reports medians of 5 runs; the table shows the better of its two
# rounds. The misses have raw redis-rs's synchronous `redis::Connection`
# beside them (one thread): the floor of one round trip the caller makes
# itself; and raw redis-rs's MultiplexedConnection waited for with
# nearcache::block_on (the same hand-off to a runtime worker as ours,
# without nearcache). Not a test: nothing here fails on a slow machine.
#
# NC_BENCH_URL=redis://... uses that server instead of launching one, and
# NC_BENCH_JSON=file also writes the table's numbers there (bench/report).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
crate=$(dirname "$here")
root=$(cd "$crate/../.." && pwd)
cc=${CC:-cc}
work=$(mktemp -d "${TMPDIR:-/tmp}/nearcache-c-bench.XXXXXX")
in_fd=
cleanup() {
  [[ -z $in_fd ]] || exec {in_fd}>&-
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

make -s -C "$crate" install PREFIX="$work/prefix" >/dev/null
(cd "$root" && cargo build --release --locked -q -p nearcache-c --example bench_rust)
target=$(cd "$root" && cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
export PKG_CONFIG_PATH=$work/prefix/lib/pkgconfig
# shellcheck disable=SC2046
"$cc" -std=c11 -O2 "$here/bench.c" -o "$work/bench" $(pkg-config --cflags --libs nearcache) -lpthread \
  -Wl,-rpath,"$(pkg-config --variable=libdir nearcache)"

if [[ -n ${NC_BENCH_URL:-} ]]; then
  url=$NC_BENCH_URL
else
  mkfifo "$work/redis.in" "$work/redis.out"
  "$root/tests/redis-launcher" <"$work/redis.in" >"$work/redis.out" &
  exec {in_fd}>"$work/redis.in"
  exec {out_fd}<"$work/redis.out"
  IFS='=' read -r -t 20 _ url <&"$out_fd"
fi

for round in 1 2; do
  "$work/bench" "$url" >>"$work/c.txt" 2>/dev/null
  "$target/release/examples/bench_rust" "$url" >>"$work/rust.txt"
done

best() { # name, lower|higher
  awk -v n="$1" -v dir="$2" '$1 == n { if (!seen || (dir == "lower" ? $2 < v : $2 > v)) v = $2; seen = 1 } END { print v }' \
    "$work/c.txt" "$work/rust.txt"
}
c_get=$(best c_l1_hit_get_ns lower)
c_into=$(best c_l1_hit_get_into_ns lower)
r_get=$(best rust_l1_hit_get_ns lower)
r_local=$(best rust_l1_hit_get_local_ns lower)
printf 'machine: %s, %s cores; commit %s\n' "$(uname -m)" "$(nproc)" "$(git -C "$root" rev-parse --short HEAD)"
printf '%-46s %12s\n' "L1 hit, 1 KiB value, 1000 keys (ns/op)" ""
printf '  %-44s %10s\n' "C   nc_cache_get + nc_value_free" "$c_get" \
  "C   nc_cache_get_into (copy)" "$c_into" \
  "Rust blocking::Cache::get" "$r_get" \
  "Rust Cache::get_local" "$r_local"
awk -v c="$c_get" -v r="$r_get" 'BEGIN { printf "  C get / Rust get = %.2fx (target <= 1.2x)\n", c / r }'
printf '%-46s\n' "miss: GET from Redis, invalidation off (ops/s)"
printf '  %-44s %10s\n' "C   1 thread" "$(best c_miss_1t_ops higher)" \
  "Rust 1 thread" "$(best rust_miss_1t_ops higher)" \
  "raw redis-rs sync Connection, 1 thread" "$(best raw_sync_miss_1t_ops higher)" \
  "raw redis-rs multiplexed + block_on, 1 thread" "$(best raw_async_miss_1t_ops higher)" \
  "C   8 threads" "$(best c_miss_8t_ops higher)" \
  "Rust 8 threads" "$(best rust_miss_8t_ops higher)"
awk -v c="$(best c_miss_1t_ops higher)" -v r="$(best raw_sync_miss_1t_ops higher)" \
  'BEGIN { printf "  C 1 thread / raw redis-rs sync = %.2fx (target >= 0.95x)\n", c / r }'
if [[ -n ${NC_BENCH_JSON:-} ]]; then
  printf '{"c_l1_hit_get_ns": %s, "c_l1_hit_get_into_ns": %s, "rust_l1_hit_get_ns": %s, "rust_l1_hit_get_local_ns": %s,\n "c_miss_1t_ops": %s, "rust_miss_1t_ops": %s, "c_miss_8t_ops": %s, "rust_miss_8t_ops": %s, "raw_sync_miss_1t_ops": %s}\n' \
    "$c_get" "$c_into" "$r_get" "$r_local" "$(best c_miss_1t_ops higher)" "$(best rust_miss_1t_ops higher)" \
    "$(best c_miss_8t_ops higher)" "$(best rust_miss_8t_ops higher)" "$(best raw_sync_miss_1t_ops higher)" >"$NC_BENCH_JSON"
fi
