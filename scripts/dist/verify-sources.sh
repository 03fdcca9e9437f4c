#!/usr/bin/env bash
# make dist-source-test: the two artifacts that carry Rust sources build from
# them alone, offline (CARGO_NET_OFFLINE: only the local cargo registry
# cache, which `cargo fetch` fills; nothing is vendored):
#   - the sdist: `pip wheel --no-index --no-build-isolation` (maturin from
#     .venv-dist), then the wheel it built imports and reports the version;
#   - the npm tarball as on a platform without a prebuilt addon: unpacked,
#     NEARCACHE_BUILD_FROM_SOURCE=1 runs its install script, which builds
#     rust/ (`--locked`) into nearcache.node; the package then loads that one
#     and reports the version.
# Both build in the workspace's target directory, so the registry crates are
# the ones already built there; the sources' own crates (core, python, node)
# compile again because their paths differ.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dist=$root/dist
venv=$root/.venv-dist
log() { printf 'dist-source-test: %s\n' "$*" >&2; }
die() { printf 'dist-source-test: FAIL: %s\n' "$*" >&2; exit 1; }

version=$(python3 "$root/scripts/version-check.py" --print)
sdist=$dist/nearcache-$version.tar.gz
tgz=$dist/nearcache-$version.tgz
[[ -f $sdist && -f $tgz ]] || die "no $sdist or $tgz: run make dist first"
target_dir=$(cd "$root" && cargo metadata --format-version 1 --no-deps --locked |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
export CARGO_TARGET_DIR=$target_dir CARGO_NET_OFFLINE=true

work=$(mktemp -d "${TMPDIR:-/tmp}/nearcache-dist-sources.XXXXXX")
trap 'rm -rf "$work"' EXIT

log "python: pip wheel $(basename "$sdist") (offline)"
PATH=$venv/bin:$PATH nice -n 10 "$venv/bin/python" -m pip wheel --quiet --disable-pip-version-check --no-index --no-build-isolation \
  --no-deps "$sdist" -w "$work/wheel"
built=$(ls "$work/wheel"/nearcache-"$version"-cp310-abi3-*.whl)
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index "$built"
got=$(cd "$work" && "$work/venv/bin/python" -c 'import nearcache; print(nearcache.__version__)')
[[ $got == "$version" ]] || die "the wheel built from the sdist reports $got"
log "python: $(basename "$built") from the sdist imports, version $got"

log "node: the npm tarball's install script, building rust/ (offline, --locked)"
mkdir "$work/npm"
tar -xzf "$tgz" -C "$work/npm"
pkg=$work/npm/package
(cd "$pkg" && NEARCACHE_BUILD_FROM_SOURCE=1 nice -n 10 node scripts/build.js)
[[ -f $pkg/nearcache.node ]] || die "the install script built no nearcache.node"
# Without the prebuilt file the loader has only the one built from source.
rm "$pkg"/nearcache.linux-x64-gnu.node
got=$(cd "$pkg" && node -e "process.stdout.write(require('./index.js').version)")
[[ $got == "$version" ]] || die "the addon built from the tarball reports $got"
log "node: nearcache.node built from the tarball's rust/ loads, version $got"
log "2 passed, 0 failed"
