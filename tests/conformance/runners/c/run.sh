#!/usr/bin/env bash
# The conformance scenarios through the C binding (part of `make conformance`):
# installs libnearcache into a temporary prefix (the release build `make
# c-test` made; cargo only checks it is fresh), builds runner.c with ASan +
# UBSan, turns the JSON scenarios into runner.c's line format, and runs them
# against a throwaway redis-server from tests/redis-launcher.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../../../.." && pwd)
launcher=${NEARCACHE_LAUNCHER:-$root/tests/redis-launcher}
cc=${CC:-cc}

work=$(mktemp -d "${TMPDIR:-/tmp}/nearcache-conformance-c.XXXXXX")
launcher_pid=
cleanup() {
  [[ -n ${to_fd:-} ]] && exec {to_fd}>&- 2>/dev/null
  [[ -n $launcher_pid ]] && wait "$launcher_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# test-hooks: nc_test_panic, for the `panic` op (runner.c declares it).
make -s -C "$root/bindings/c" install PREFIX="$work/prefix" FEATURES=test-hooks >/dev/null
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
libdir=$(pkg-config --variable=libdir nearcache)
read -ra nc_cflags <<<"$(pkg-config --cflags nearcache)"
read -ra nc_libs <<<"$(pkg-config --libs nearcache)"
"$cc" -std=c11 -Wall -Wextra -Werror -g -O1 -fno-omit-frame-pointer \
  -fsanitize=address,undefined -fno-sanitize-recover=all \
  "${nc_cflags[@]}" "$here/runner.c" -o "$work/runner" "${nc_libs[@]}" -Wl,-rpath,"$libdir"
python3 "$here/scenarios_to_text.py" "$root/tests/conformance/scenarios" >"$work/scenarios.txt"

mkfifo "$work/in" "$work/out"
"$launcher" <"$work/in" >"$work/out" &
launcher_pid=$!
exec {to_fd}>"$work/in"
exec {from_fd}<"$work/out"
IFS='=' read -r -t 20 key url <&"$from_fd" || { echo "run.sh: redis-launcher did not start" >&2; exit 1; }
[[ $key == url ]] || { echo "run.sh: unexpected launcher line $key=$url" >&2; exit 1; }

export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
"$work/runner" "$url" "$work/scenarios.txt" "$root/tests/conformance/configs" "$work"
