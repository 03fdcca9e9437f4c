#!/usr/bin/env bash
# Django's generic cache backend tests (BaseCacheTests, tests/cache of
# Django's source distribution on PyPI) against nearcache.contrib.django,
# through python/tests/django_suite.py. Run by `make django-test` after
# `make python-test` (which builds .venv); everything it fetches or builds
# goes to target/django-suite/.
#
# Django 6 needs Python >= 3.12, newer than Debian 12's 3.11: the newest
# Python found among $DJANGO_PYTHON, python3.14 .. python3.12 and pyenv's
# versions runs DJANGO_VERSION; with none, the newest Django for the
# system's Python (DJANGO_LTS_VERSION, 5.2 LTS) runs instead, and says so.
# Both versions are pinned so that a new Django release cannot turn the
# build red on its own; bump them here.
set -euo pipefail
cd "$(dirname "$0")/../.."

DJANGO_VERSION=${DJANGO_VERSION:-6.1.3}
DJANGO_LTS_VERSION=${DJANGO_LTS_VERSION:-5.2.19}
WORK=target/django-suite
MAIN_VENV=${VENV:-.venv}

is_new_python() {
  "$1" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1
}

find_python() {
  local candidates=()
  [ -n "${DJANGO_PYTHON:-}" ] && candidates+=("$DJANGO_PYTHON")
  candidates+=(python3.14 python3.13 python3.12)
  if command -v pyenv >/dev/null 2>&1; then
    local root
    root=$(pyenv root)
    candidates+=($(ls -d "$root"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV))
  fi
  for p in "${candidates[@]}"; do
    if is_new_python "$p"; then
      command -v "$p" 2>/dev/null || echo "$p"
      return 0
    fi
  done
  return 1
}

if python=$(find_python); then
  version=$DJANGO_VERSION
else
  python=python3
  version=$DJANGO_LTS_VERSION
  echo "django-suite: no Python >= 3.12 found (set DJANGO_PYTHON): testing Django $version, not $DJANGO_VERSION" >&2
fi
echo "django-suite: Django $version on $("$python" --version) ($python)"

mkdir -p "$WORK"
venv=$WORK/venv-$version
test -x "$venv/bin/python" || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "django==$version"

# Django's tests ship only in its sdist.
sdist=$WORK/django-$version.tar.gz
if [ ! -f "$sdist" ]; then
  "$venv/bin/python" -m pip download --quiet --disable-pip-version-check --no-binary :all: --no-deps \
    "django==$version" -d "$WORK"
fi
tests=$WORK/tests-$version
rm -rf "$tests" && mkdir -p "$tests"
tar -xzf "$sdist" -C "$tests" --strip-components=2 "django-$version/tests/cache"

# The abi3 wheel of this tree, built by .venv's pip with the features of
# `make python-test` so that cargo reuses its build.
rm -rf "$WORK/wheel"
MATURIN_PEP517_ARGS="--features test-hooks" "$MAIN_VENV/bin/python" -m pip wheel --quiet \
  --disable-pip-version-check --no-deps ./python -w "$WORK/wheel"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps \
  "$WORK"/wheel/nearcache-*.whl

timeout 600 "$venv/bin/python" python/tests/django_suite.py "$tests"
