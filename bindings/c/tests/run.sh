#!/usr/bin/env bash
# The C test suite (`make -C bindings/c check`, part of `make test`):
#   1. installs the library, with the test-only hooks (FEATURES=test-hooks),
#      into a temporary prefix (make install),
#   2. builds tests/*.c with AddressSanitizer + UBSan through that prefix's
#      pkg-config file, and runs them against two throwaway redis-servers
#      started by tests/redis-launcher (one plain, one with a password),
#   3. builds examples/basic.c with `cc basic.c $(pkg-config --cflags --libs
#      nearcache)` (shared) and against libnearcache.a (static) and runs both;
#      builds and runs examples/commands.c (shared).
# Any failure, leak or invalid access fails the script.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
crate=$(dirname "$here")
root=$(cd "$crate/../.." && pwd)
launcher=${NEARCACHE_LAUNCHER:-$root/tests/redis-launcher}
cc=${CC:-cc}

work=$(mktemp -d "${TMPDIR:-/tmp}/nearcache-c-test.XXXXXX")
launcher_pids=()
launcher_fds=()
cleanup() {
  local fd pid
  for fd in "${launcher_fds[@]}"; do exec {fd}>&- 2>/dev/null || true; done
  for pid in "${launcher_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Starts a launcher with its stdin and stdout on FIFOs that this shell keeps
# open (closing stdin stops the server) and sets REPLY to the server's URL.
start_redis() {
  local name=$1 key value out_fd in_fd
  shift
  mkfifo "$work/$name.in" "$work/$name.out"
  "$launcher" "$@" <"$work/$name.in" >"$work/$name.out" &
  launcher_pids+=($!)
  exec {in_fd}>"$work/$name.in"
  exec {out_fd}<"$work/$name.out"
  launcher_fds+=("$in_fd" "$out_fd")
  IFS='=' read -r -t 20 key value <&"$out_fd" || { echo "run.sh: $name did not start" >&2; exit 1; }
  [[ $key == url ]] || { echo "run.sh: unexpected launcher line $key=$value" >&2; exit 1; }
  REPLY=$value
}

echo "c-test: installing into a temporary prefix"
# test-hooks: nc_test_panic, which test_api.c declares itself (not in the header).
make -s -C "$crate" install PREFIX="$work/prefix" FEATURES=test-hooks >/dev/null
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
libdir=$(pkg-config --variable=libdir nearcache)

cflags=(-std=c11 -Wall -Wextra -Werror -g -O1 -fno-omit-frame-pointer
  -fsanitize=address,undefined -fno-sanitize-recover=all)
read -ra nc_cflags <<<"$(pkg-config --cflags nearcache)"
read -ra nc_libs <<<"$(pkg-config --libs nearcache)"
for t in api threads vectors commands; do
  "$cc" "${cflags[@]}" "${nc_cflags[@]}" "$here/test_$t.c" -o "$work/test_$t" \
    "${nc_libs[@]}" -Wl,-rpath,"$libdir" -lpthread
done
python3 "$here/vectors_to_text.py" "$root/tests/vectors/frames.json" >"$work/vectors.txt"

start_redis plain
export NC_TEST_URL=$REPLY
start_redis auth --requirepass secret
export NC_TEST_AUTH_URL=$REPLY
export NC_TEST_CONFIGS=$root/tests/conformance/configs
export NC_TEST_VECTORS=$work/vectors.txt
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# LeakSanitizer runs at exit with no suppressions: the Rust runtime's
# long-lived allocations (the tokio runtime in a static, thread-locals of
# live threads) stay reachable, so nothing needs hiding.

for t in api threads vectors commands; do
  echo "c-test: test_$t (ASan + UBSan)"
  "$work/test_$t"
done

echo "c-test: README.md's C blocks are examples/basic.c and examples/commands.c"
python3 - "$root/README.md" "$crate/examples/basic.c" "$crate/examples/commands.c" <<'PY'
import re, sys
readme = open(sys.argv[1], encoding="utf-8").read()
examples = [open(path, encoding="utf-8").read() for path in sys.argv[2:]]
blocks = re.findall(r"^```c\n(.*?)^```$", readme, re.S | re.M)
if blocks != examples:
    sys.exit("run.sh: README.md's ```c blocks must be bindings/c/examples/basic.c and commands.c, in that order")
PY

echo "c-test: examples/basic.c via pkg-config (shared library)"
# shellcheck disable=SC2046 # pkg-config output is meant to be split
"$cc" -std=c11 -Wall -Wextra -Werror "$crate/examples/basic.c" -o "$work/basic" \
  $(pkg-config --cflags --libs nearcache)
LD_LIBRARY_PATH=$libdir "$work/basic" "$NC_TEST_URL" >"$work/basic.out"
grep -q 'get example:user:42 -> {"name":"Ada"}' "$work/basic.out"
grep -q 'get example:nobody -> not found' "$work/basic.out"
# Not `grep -q`: it exits at the first match, and under pipefail ldd's
# SIGPIPE would then fail the pipeline now and then.
LD_LIBRARY_PATH=$libdir ldd "$work/basic" | grep "libnearcache.so.0 => $libdir/libnearcache.so.0" >/dev/null

echo "c-test: examples/basic.c against libnearcache.a (static)"
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags nearcache) "$crate/examples/basic.c" \
  -o "$work/basic-static" "$libdir/libnearcache.a" $(pkg-config --static --libs-only-l nearcache | sed 's/-lnearcache//')
"$work/basic-static" "$NC_TEST_URL" >"$work/basic-static.out"
grep -q 'get example:nobody -> not found' "$work/basic-static.out"
if ldd "$work/basic-static" | grep libnearcache; then
  echo "run.sh: basic-static links libnearcache dynamically" >&2
  exit 1
fi

echo "c-test: examples/commands.c via pkg-config (shared library)"
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Wextra -Werror "$crate/examples/commands.c" -o "$work/commands" \
  $(pkg-config --cflags --libs nearcache)
LD_LIBRARY_PATH=$libdir "$work/commands" "$NC_TEST_URL" >"$work/commands.out"
diff -u - "$work/commands.out" <<'OUT'
zscore grace -> 5
read ZRANGE BYSCORE [0] -> grace
pipeline [0] -> 21
pipeline [1] -> error: INCR "example:board": "WRONGTYPE": Operation against a key holding the wrong kind of value
counter -> 42
script -> 142
OUT

echo "c-test: ok"
