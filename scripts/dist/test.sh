#!/usr/bin/env bash
# make dist-test: installs each artifact of `make dist` the way a user would,
# on a PATH without cargo, rustc or a C compiler, and smoke-tests it
# (scripts/dist/smoke/) against a redis-server from tests/redis-launcher:
#   - the wheel into a fresh venv (pip --no-index: nothing to build, nothing
#     to fetch),
#   - the npm tarball into an empty project (its install script must take
#     the prebuilt addon), then the same package as if on another platform
#     (linux-arm64-gnu): loading and the install script fail naming it,
#   - the C tarball unpacked into an empty prefix; the test program is built
#     with `cc $(pkg-config --cflags --libs nearcache)` (the one compiler
#     call, the user's own program: cc is run by its absolute path) and run
#     with the prefix's lib/.
# Every version the installs report must be Cargo's (scripts/version-check.py).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dist=$root/dist
smoke=$root/scripts/dist/smoke
launcher=${NEARCACHE_LAUNCHER:-$root/tests/redis-launcher}
log() { printf 'dist-test: %s\n' "$*" >&2; }
die() { printf 'dist-test: FAIL: %s\n' "$*" >&2; exit 1; }

[[ -d $dist ]] || die "no dist/: run make dist first"
python3 "$root/scripts/version-check.py" --dist "$dist"
version=$(python3 "$root/scripts/version-check.py" --print)
wheel=$(ls "$dist"/nearcache-"$version"-cp310-abi3-manylinux*.whl)
tgz=$dist/nearcache-$version.tgz
ctar=$dist/nearcache-c-$version-linux-x86_64.tar.gz

# The tools the tests use, by absolute path, resolved before PATH shrinks.
python_bin=$(python3 -c 'import sys; print(sys.executable)')
cc_bin=$(command -v "${CC:-cc}")
# The C compiler finds its own assembler and linker on the PATH: it alone
# runs with the original one.
full_path=$PATH

work=$(mktemp -d "${TMPDIR:-/tmp}/nearcache-dist-test.XXXXXX")
launcher_pid=
launcher_in=
cleanup() {
  if [[ -n $launcher_in ]]; then exec {launcher_in}>&- 2>/dev/null || true; fi
  if [[ -n $launcher_pid ]]; then wait "$launcher_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A PATH of links to every command on the current one except Rust's tools
# and C/C++ compilers and linkers.
mkdir "$work/bin"
IFS=: read -ra path_dirs <<<"$PATH"
for dir in "${path_dirs[@]}"; do
  [[ -d $dir ]] || continue
  for file in "$dir"/*; do
    name=${file##*/}
    [[ -x $file && ! -d $file && ! -e $work/bin/$name ]] || continue
    case $name in
      cargo* | rustc* | rustup* | rustdoc* | rust-* | cbindgen | maturin | zig | napi) continue ;;
      cc | c++ | cpp | gcc* | g++* | clang* | ld | ld.* | lld | ld64.lld | tcc | *-gcc | *-gcc-* | *-g++ | *-g++-* | *-ld | *-ld.* | *-cc) continue ;;
    esac
    ln -s "$file" "$work/bin/$name"
  done
done
export PATH=$work/bin
for tool in cargo rustc cc gcc c++ clang; do
  if command -v "$tool" >/dev/null 2>&1; then die "$tool is still on the test PATH ($(command -v "$tool"))"; fi
done
log "PATH without a Rust toolchain or a C compiler: command -v cargo, rustc, cc, gcc fail"
for tool in node npm redis-server redis-cli pkg-config tar; do
  command -v "$tool" >/dev/null || die "$tool is not on the PATH"
done
# No cargo registry or rustup either, in case something calls them by path.
export CARGO_HOME=$work/no-cargo-home RUSTUP_HOME=$work/no-rustup-home

# One redis-server for all three; the launcher stops it when its stdin closes.
mkfifo "$work/redis.in" "$work/redis.out"
"$launcher" <"$work/redis.in" >"$work/redis.out" &
launcher_pid=$!
exec {launcher_in}>"$work/redis.in"
exec {launcher_out}<"$work/redis.out"
IFS='=' read -r -t 20 key url <&"$launcher_out" || die "redis-launcher did not start"
[[ $key == url ]] || die "unexpected launcher line $key=$url"
log "redis-server at $url"

# --- Python ------------------------------------------------------------------
log "python: pip install $(basename "$wheel") into a fresh venv"
"$python_bin" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index "$wheel"
(cd "$work" && "$work/venv/bin/python" "$smoke/smoke.py" "$url" "$version")

# --- Node --------------------------------------------------------------------
log "node: npm install $(basename "$tgz") into an empty project"
mkdir "$work/app"
(cd "$work/app" && npm init -y >/dev/null &&
  npm install --no-audit --no-fund --offline --foreground-scripts "$tgz" 2>&1 | tee "$work/npm-install.log" >&2)
grep -q 'using the prebuilt addon nearcache.linux-x64-gnu.node' "$work/npm-install.log" ||
  die "npm install did not report the prebuilt addon"
[[ ! -e $work/app/node_modules/nearcache/nearcache.node ]] || die "npm install built an addon from source"
[[ -f $work/app/node_modules/nearcache/rust/Cargo.lock ]] || die "the package does not carry rust/Cargo.lock"
cp "$smoke/smoke.js" "$work/app/"
(cd "$work/app" && node smoke.js "$url" "$version")

log "node: the same package on another platform (process.arch = arm64)"
cat >"$work/app/as-arm64.js" <<'JS'
Object.defineProperty(process, 'arch', { value: 'arm64' });
JS
if (cd "$work/app" && node -r ./as-arm64.js -e "require('nearcache')" 2>"$work/load.err"); then
  die "require('nearcache') loaded on a platform it has no addon for"
fi
grep -q 'no native addon loads on this platform (linux-arm64-gnu)' "$work/load.err" || { cat "$work/load.err" >&2; die "load error does not name linux-arm64-gnu"; }
grep -q 'prebuilt addon for linux-x64-gnu only' "$work/load.err" || die "load error does not say which platform is prebuilt"
if (cd "$work/app/node_modules/nearcache" && node -r "$work/app/as-arm64.js" scripts/build.js 2>"$work/build.err"); then
  die "the install script succeeded on linux-arm64-gnu without cargo"
fi
grep -q 'building the addon for linux-arm64-gnu from source needs a Rust toolchain' "$work/build.err" || { cat "$work/build.err" >&2; die "install error does not name the platform"; }
log "node: loading and installing on linux-arm64-gnu fail naming it: $(grep -m1 "no native addon" "$work/load.err")"

# --- C -----------------------------------------------------------------------
log "c: $(basename "$ctar") into an empty prefix"
mkdir "$work/prefix"
tar -xzf "$ctar" -C "$work/prefix" --strip-components=1
export PKG_CONFIG_PATH=$work/prefix/lib/pkgconfig
libdir=$(pkg-config --variable=libdir nearcache)
[[ $(cd "$libdir" && pwd) == "$work/prefix/lib" ]] || die "pkg-config libdir $libdir is not the prefix's lib/"
read -ra nc_cflags <<<"$(pkg-config --cflags nearcache)"
read -ra nc_libs <<<"$(pkg-config --libs nearcache)"
log "c: $cc_bin smoke.c ${nc_cflags[*]} ${nc_libs[*]}"
PATH=$full_path "$cc_bin" -std=c11 -Wall -Wextra -Werror "$smoke/smoke.c" -o "$work/smoke-c" "${nc_cflags[@]}" "${nc_libs[@]}"
[[ $(readelf --dynamic "$work/smoke-c" | sed -n 's/.*(NEEDED).*\[\(libnearcache[^]]*\)\].*/\1/p') == libnearcache.so.0 ]] ||
  die "the program does not record libnearcache.so.0 (the SONAME)"
LD_LIBRARY_PATH=$libdir "$work/smoke-c" "$url" "$version"

exec {launcher_in}>&-
wait "$launcher_pid"
launcher_pid= launcher_in=
log "3 passed, 0 failed (wheel, npm tarball, C tarball installed without a Rust toolchain)"
