#!/usr/bin/env bash
# make dist: the release artifacts, in dist/.
#
#   nearcache-V-cp310-abi3-manylinux2014_x86_64....whl  Python wheel (abi3, CPython >= 3.10)
#   nearcache-V.tar.gz                                 Python sdist (cargo workspace core + python)
#   nearcache-V.tgz                                    npm tarball: prebuilt linux-x64-gnu addon + rust/ sources
#   nearcache-c-V-linux-x86_64.tar.gz                  C release: lib/ (.so with SONAME, .a), include/, pkg-config
#   nearcache-V.crate                                  `cargo package -p nearcache` (verified build)
#   SHA256SUMS
#
# One release build: the three libraries are `cargo rustc --release` of
# their crates in the workspace's target/release, so every dependency is
# the one `make python-test`, `node-test` and `c-test` already built there
# (the same features, the same profile); only the final crate of each is
# compiled again (the tests build theirs with the `test-hooks` feature),
# and its link goes through scripts/dist/zigcc (zig, glibc 2.17), which
# makes all three load on any glibc >= 2.17. The link is checked below.
#
# The sdist and the npm tarball's rust/ build offline from the cargo
# registry cache (nothing is vendored: `cargo build --offline` works where
# the dependencies were fetched once, `cargo fetch` does that); see
# scripts/dist/verify-sources.sh, which builds both.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
cargo=${CARGO:-cargo}
python=${PYTHON:-python3}
venv=$root/.venv-dist
out=$root/dist
# The highest glibc symbol version the shared libraries may need (manylinux2014).
glibc_max=2.17

log() { printf 'dist: %s\n' "$*" >&2; }
die() { printf 'dist: %s\n' "$*" >&2; exit 1; }

version=$("$cargo" metadata --format-version 1 --no-deps --locked |
  "$python" -c 'import json,sys; print({p["name"]: p["version"] for p in json.load(sys.stdin)["packages"]}["nearcache"])')
target_dir=$("$cargo" metadata --format-version 1 --no-deps --locked |
  "$python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
log "nearcache $version"

# Every version the artifacts carry must be this one (scripts/version-check.py).
"$python" scripts/version-check.py

if ! "$venv/bin/python" -c 'import maturin, ziglang, auditwheel' 2>/dev/null; then
  log "installing the build tools into .venv-dist (scripts/dist/requirements.txt)"
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r scripts/dist/requirements.txt
export NEARCACHE_DIST_VENV=$venv
zigcc=$root/scripts/dist/zigcc

rm -rf "$out" "$target_dir/dist"
mkdir -p "$out"
stage=$target_dir/dist
mkdir -p "$stage"

# Fails unless every GLIBC_x.y that $1 needs is at most $glibc_max.
check_glibc() {
  local lib=$1 newest
  newest=$(readelf --version-info --wide "$lib" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
  [[ -n $newest ]] || die "$lib: no GLIBC symbol versions found (readelf)"
  if [[ $(printf '%s\n%s\n' "$newest" "$glibc_max" | sort -V | tail -1) != "$glibc_max" ]]; then
    die "$lib needs GLIBC_$newest, newer than $glibc_max"
  fi
  log "$(basename "$lib"): newest glibc symbol version GLIBC_$newest (<= $glibc_max)"
}

# `cargo rustc -p CRATE` (release, locked, zig link); prints the library path
# with extension $2.
build_lib() {
  local crate=$1 ext=$2 strip=$3
  nice -n 10 "$cargo" rustc -p "$crate" --release --locked --lib --message-format=json-render-diagnostics \
    -- -C linker="$zigcc" -C strip="$strip" |
    "$python" -c '
import json, sys
name, ext = sys.argv[1], sys.argv[2]
found = None
for line in sys.stdin:
    if not line.startswith("{"):
        continue
    msg = json.loads(line)
    if msg.get("reason") == "compiler-artifact" and msg["target"]["name"] == name:
        found = next((f for f in msg["filenames"] if f.endswith(ext)), found)
if not found:
    sys.exit(f"dist: cargo reported no {ext} for {name}")
print(found)' "${crate//-/_}" "$ext"
}

# --- Python: wheel and sdist --------------------------------------------------
log "python: wheel (maturin, abi3, manylinux2014 through the zig linker)"
nice -n 10 "$venv/bin/maturin" build --release --locked --strip --compatibility manylinux2014 --auditwheel check \
  -m python/Cargo.toml -o "$out" --quiet -- -C linker="$zigcc"
wheel=$(ls "$out"/nearcache-"$version"-cp310-abi3-*.whl)
"$venv/bin/auditwheel" show "$wheel" >"$stage/auditwheel.txt"
head -3 "$stage/auditwheel.txt" >&2
grep -q '"manylinux_2_17_x86_64"' "$stage/auditwheel.txt" || die "auditwheel: $wheel is not manylinux_2_17_x86_64"
log "python: sdist"
"$venv/bin/maturin" sdist -m python/Cargo.toml -o "$out" >/dev/null

# --- Rust: the core crate -----------------------------------------------------
log "rust: cargo package -p nearcache (with its verification build)"
# --allow-dirty: every other artifact is built from the working tree too.
nice -n 10 "$cargo" package -p nearcache --locked --quiet --allow-dirty
cp "$target_dir/package/nearcache-$version.crate" "$out/"

# --- Node: npm tarball --------------------------------------------------------
log "node: addon (linux-x64-gnu)"
addon=$(build_lib nearcache-node .so symbols)
check_glibc "$addon"
pkg=$stage/npm
mkdir -p "$pkg/scripts"
cp "$addon" "$pkg/nearcache.linux-x64-gnu.node"
# Every entry of package.json's "files" from node/ (README, licences and
# changelog from the repository's root), except the two made here.
"$python" - "$pkg" <<'PY'
import json, os, shutil, sys
dest = sys.argv[1]
for entry in json.load(open("node/package.json"))["files"]:
    if entry in ("rust/", "nearcache.*.node"):
        continue
    src = next((p for p in (os.path.join("node", entry), entry) if os.path.isfile(p)), None)
    if src is None:
        sys.exit(f"dist: package.json lists {entry!r}, which is neither in node/ nor at the root")
    os.makedirs(os.path.dirname(os.path.join(dest, entry)) or dest, exist_ok=True)
    shutil.copy(src, os.path.join(dest, entry))
PY
# rust/: a cargo workspace of core and node, with the workspace's settings
# (dependency versions and features, profile) and its Cargo.lock, so that
# the install script builds from it on a platform without a prebuilt addon.
mkdir -p "$pkg/rust/core" "$pkg/rust/node"
sed 's/^members = .*/members = ["core", "node"]/' Cargo.toml >"$pkg/rust/Cargo.toml"
grep -q '^members = \["core", "node"\]' "$pkg/rust/Cargo.toml" || die "could not rewrite the workspace members"
cp Cargo.lock "$pkg/rust/"
git ls-files -z core/Cargo.toml core/src core/benches | xargs -0 cp --parents -t "$pkg/rust"
git ls-files -z node/Cargo.toml node/build.rs node/src | xargs -0 cp --parents -t "$pkg/rust"
# Drop the lock entries of the crates left out (python, C, CLI) without
# changing a version: cargo prunes, offline; the install builds `--locked`.
(cd "$pkg/rust" && "$cargo" metadata --format-version 1 --offline >/dev/null)
# package.json: the repository's, without what only a clone uses.
"$python" - "$pkg/package.json" "$version" <<'PY'
import json, sys
dest, version = sys.argv[1], sys.argv[2]
with open("node/package.json") as f:
    pkg = json.load(f)
if pkg["version"] != version:
    sys.exit(f"dist: node/package.json version {pkg['version']} != Cargo's {version}")
pkg.pop("devDependencies", None)
pkg["scripts"] = {k: v for k, v in pkg["scripts"].items() if k in ("install", "prepack")}
with open(dest, "w") as f:
    json.dump(pkg, f, indent=2)
    f.write("\n")
PY
(cd "$pkg" && npm pack --silent --pack-destination "$out" >/dev/null)
[[ -f $out/nearcache-$version.tgz ]] || die "npm pack wrote no nearcache-$version.tgz"

# --- C: release tarball -------------------------------------------------------
log "c: libnearcache (shared with SONAME, static)"
so=$(build_lib nearcache-c .so debuginfo)
check_glibc "$so"
soname=$(readelf --dynamic "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ $soname == libnearcache.so.0 ]] || die "libnearcache's SONAME is '$soname', not libnearcache.so.0"
name=nearcache-c-$version-linux-x86_64
c=$stage/c/$name
mkdir -p "$c/lib/pkgconfig" "$c/include"
install -m 755 "$so" "$c/lib/libnearcache.so.$version"
ln -s "libnearcache.so.$version" "$c/lib/libnearcache.so.0"
ln -s libnearcache.so.0 "$c/lib/libnearcache.so"
install -m 644 "$(dirname "$so")/libnearcache_c.a" "$c/lib/libnearcache.a"
install -m 644 include/nearcache.h "$c/include/"
# Relocatable: pkg-config sets ${pcfiledir} to the directory of the .pc file.
sed -e 's|@PREFIX@|${pcfiledir}/../..|' -e 's|@LIBDIR@|${prefix}/lib|' -e 's|@INCLUDEDIR@|${prefix}/include|' \
  -e "s|@VERSION@|$version|" bindings/c/nearcache.pc.in >"$c/lib/pkgconfig/nearcache.pc"
sed "s/@VERSION@/$version/g" scripts/dist/c-README.md >"$c/README.md"
cp LICENSE-MIT LICENSE-APACHE CHANGELOG.md "$c/"
tar -C "$stage/c" --owner=0 --group=0 --numeric-owner -czf "$out/$name.tar.gz" "$name"

(cd "$out" && sha256sum -- * >SHA256SUMS)
log "wrote $out:"
(cd "$out" && ls -l --block-size=K -- * | awk '{print "  " $5 "  " $9}') >&2
