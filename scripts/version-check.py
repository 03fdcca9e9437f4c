#!/usr/bin/env python3
"""One version: `[workspace.package] version` in the root Cargo.toml.

Fails (exit 1, one line per disagreement) when anything that states a
version says another one:

- every crate of the workspace takes `version.workspace = true`, and the
  Python package's version is maturin's (pyproject `dynamic = ["version"]`);
- node/package.json and node/package-lock.json;
- include/nearcache.h: NC_VERSION_MAJOR / MINOR / PATCH;
- CHANGELOG.md: an `## [Unreleased]` section and one for this version;
- with --cli BIN: `BIN --version` (the nearcache binary);
- with --dist DIR: the artifacts of `make dist` (wheel and sdist names and
  metadata, the npm tarball's package.json, the C tarball's directory,
  pkg-config file and header, the .crate).

The run-time versions of the installed packages (`nearcache.__version__`,
Node's `version`, C's `nc_version()`) are checked by scripts/dist/test.sh
against `--print`.

  scripts/version-check.py [--root DIR] [--cli BIN] [--dist DIR]
  scripts/version-check.py --print        the version, nothing else
  scripts/version-check.py --self-test    each check fails on a changed copy
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def workspace_version(root: Path) -> str:
    with open(root / "Cargo.toml", "rb") as f:
        return tomllib.load(f)["workspace"]["package"]["version"]


def check_sources(root: Path, version: str) -> list[str]:
    problems: list[str] = []

    def differs(what: str, found: object) -> None:
        if found != version:
            problems.append(f"{what} is {found!r}, Cargo.toml's workspace version is {version!r}")

    with open(root / "Cargo.toml", "rb") as f:
        members = tomllib.load(f)["workspace"]["members"]
    for member in members:
        with open(root / member / "Cargo.toml", "rb") as f:
            package = tomllib.load(f)["package"]
        if package.get("version") != {"workspace": True}:
            problems.append(f"{member}/Cargo.toml sets its own version (use version.workspace = true)")

    with open(root / "python" / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    if "version" in project or "version" not in project.get("dynamic", []):
        problems.append("python/pyproject.toml must leave the version to maturin (dynamic = [\"version\"])")

    package_json = json.loads((root / "node" / "package.json").read_text())
    differs("node/package.json version", package_json.get("version"))
    lock = json.loads((root / "node" / "package-lock.json").read_text())
    differs("node/package-lock.json version", lock.get("version"))
    differs('node/package-lock.json packages[""].version', lock.get("packages", {}).get("", {}).get("version"))

    problems += check_header((root / "include" / "nearcache.h").read_text(), "include/nearcache.h", version)

    changelog = (root / "CHANGELOG.md").read_text()
    if not re.search(r"^## \[Unreleased\]", changelog, re.M):
        problems.append("CHANGELOG.md has no '## [Unreleased]' section")
    if not re.search(rf"^## \[{re.escape(version)}\]", changelog, re.M):
        problems.append(f"CHANGELOG.md has no '## [{version}]' section")
    return problems


def check_header(text: str, what: str, version: str) -> list[str]:
    found = []
    for part in ("MAJOR", "MINOR", "PATCH"):
        m = re.search(rf"^#define NC_VERSION_{part} (\d+)$", text, re.M)
        found.append(m.group(1) if m else "?")
    header_version = ".".join(found)
    if header_version != version:
        return [f"{what}: NC_VERSION_MAJOR.MINOR.PATCH is {header_version}, not {version}"]
    return []


def check_cli(binary: str, version: str) -> list[str]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    return [] if out == f"nearcache {version}" else [f"`{binary} --version` prints {out!r}, not 'nearcache {version}'"]


def check_dist(dist: Path, version: str) -> list[str]:
    problems: list[str] = []

    def one(pattern: str) -> Path | None:
        found = sorted(dist.glob(pattern))
        if len(found) != 1:
            problems.append(f"{dist}: expected one {pattern}, found {[p.name for p in found]}")
            return None
        return found[0]

    if wheel := one("nearcache-*.whl"):
        with zipfile.ZipFile(wheel) as z:
            meta = z.read(f"nearcache-{version}.dist-info/METADATA").decode() if wheel.name.startswith(
                f"nearcache-{version}-"
            ) else ""
        if f"\nVersion: {version}\n" not in meta:
            problems.append(f"{wheel.name}: not version {version} (name or METADATA)")
    if sdist := one("nearcache-[0-9]*.tar.gz"):
        with tarfile.open(sdist) as t:
            try:
                info = t.extractfile(f"nearcache-{version}/PKG-INFO")
                pkg_info = info.read().decode() if info else ""
            except KeyError:
                pkg_info = ""
        if f"\nVersion: {version}\n" not in pkg_info:
            problems.append(f"{sdist.name}: not version {version} (name or PKG-INFO)")
    if tgz := one("nearcache-*.tgz"):
        with tarfile.open(tgz) as t:
            member = t.extractfile("package/package.json")
            npm_version = json.load(member).get("version") if member else None
        if tgz.name != f"nearcache-{version}.tgz" or npm_version != version:
            problems.append(f"{tgz.name}: package.json version {npm_version}, not {version}")
    if ctar := one("nearcache-c-*.tar.gz"):
        top = f"nearcache-c-{version}-linux-x86_64"
        with tarfile.open(ctar) as t:
            try:
                pc = t.extractfile(f"{top}/lib/pkgconfig/nearcache.pc")
                header = t.extractfile(f"{top}/include/nearcache.h")
                pc_text = pc.read().decode() if pc else ""
                header_text = header.read().decode() if header else ""
            except KeyError:
                pc_text = header_text = ""
        if f"\nVersion: {version}\n" not in pc_text:
            problems.append(f"{ctar.name}: no {top}/lib/pkgconfig/nearcache.pc with Version: {version}")
        problems += check_header(header_text, f"{ctar.name}: nearcache.h", version)
    if crate := one("nearcache-*.crate"):
        if crate.name != f"nearcache-{version}.crate":
            problems.append(f"{crate.name}: not version {version}")
    return problems


def self_test() -> int:
    """Each source of a version, changed alone in a copy, must fail the check."""
    files = ["Cargo.toml", "CHANGELOG.md", "include/nearcache.h", "node/package.json", "node/package-lock.json",
             "python/pyproject.toml"]
    with open(ROOT / "Cargo.toml", "rb") as f:
        members = tomllib.load(f)["workspace"]["members"]
    files += [f"{m}/Cargo.toml" for m in members]
    version = workspace_version(ROOT)
    other = "9.8.7"
    edits = {
        "node/package.json": (f'"version": "{version}"', f'"version": "{other}"'),
        "node/package-lock.json": (f'"version": "{version}"', f'"version": "{other}"'),
        "include/nearcache.h": ("#define NC_VERSION_MINOR ", "#define NC_VERSION_MINOR 9"),
        "CHANGELOG.md": (f"## [{version}]", "## [0.0.0]"),
        "core/Cargo.toml": ("version.workspace = true", f'version = "{version}"'),
        "python/pyproject.toml": ('dynamic = ["version"]', f'version = "{version}"'),
        # The workspace version moves and nothing follows: everything disagrees.
        "Cargo.toml": (f'version = "{version}"', f'version = "{other}"'),
    }
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)

        def fresh() -> None:
            for rel in files:
                (base / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / rel, base / rel)

        fresh()
        if problems := check_sources(base, workspace_version(base)):
            print("self-test: the unchanged copy fails:", *problems, sep="\n  ")
            return 1
        for rel, (old, new) in edits.items():
            fresh()
            text = (base / rel).read_text()
            if old not in text:
                print(f"self-test: {rel} has no {old!r} to change")
                failures += 1
                continue
            (base / rel).write_text(text.replace(old, new, 1))
            problems = check_sources(base, workspace_version(base))
            print(f"self-test: changed {rel}: {'caught: ' + problems[0] if problems else 'NOT CAUGHT'}")
            failures += not problems
    print(f"self-test: {len(edits) - failures} passed, {failures} failed")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--cli", help="the nearcache binary: check `--version`")
    parser.add_argument("--dist", type=Path, help="the dist/ directory of `make dist`")
    parser.add_argument("--print", action="store_true", help="print the version and exit")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if args.self_test:
        return self_test()
    version = workspace_version(args.root)
    if args.print:
        print(version)
        return 0
    problems = check_sources(args.root, version)
    if args.cli:
        problems += check_cli(args.cli, version)
    if args.dist:
        problems += check_dist(args.dist, version)
    for p in problems:
        print(f"version-check: {p}", file=sys.stderr)
    if problems:
        return 1
    checked = "sources" + (", CLI" if args.cli else "") + (", dist/" if args.dist else "")
    print(f"version-check: {version} everywhere ({checked})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
