"""Django's own generic cache backend tests against NearcacheCache.

Usage: ``python django_suite.py DIR`` where ``DIR/cache`` is ``tests/cache``
of Django's source distribution (``python/tests/django-suite.sh`` fetches it).
Runs ``BaseCacheTests`` (every test Django applies to all of its backends)
with the settings Django's ``RedisCacheTests`` uses, against a redis-server
started by the project's launcher, and prints each skipped test with why.
Exits non-zero on any failure, error or unexpected skip.
"""

from __future__ import annotations

import subprocess
import sys
import unittest
from pathlib import Path
from typing import Any

LAUNCHER = Path(__file__).resolve().parents[2] / "tests" / "redis-launcher"

# Tests of BaseCacheTests that assert what one kind of backend does, with why
# they do not apply. Culling is LocMem/FileBased/DB behaviour (MAX_ENTRIES,
# CULL_FREQUENCY); Django's RedisCacheTests excludes the `cull` and
# `zero_cull` caches for the same reason, so these three skip themselves
# ("Culling isn't implemented.") and are listed here to be checked.
SELF_SKIPPED = {
    "test_cull": "culling (OPTIONS MAX_ENTRIES) is for LocMem/FileBased/DB caches; L1 is bounded by l1.max_bytes",
    "test_zero_cull": "culling (OPTIONS CULL_FREQUENCY) is for LocMem/FileBased/DB caches",
    "test_cull_delete_when_store_empty": "culling, as above",
}


def start_redis() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([str(LAUNCHER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    fields = {}
    for _ in range(2):
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"redis-launcher exited with {proc.wait()} before printing url/pid")
        name, _, value = line.strip().partition("=")
        fields[name] = value
    return proc, fields["url"]


def configure(url: str) -> dict[str, Any]:
    import django
    from django.conf import settings

    backend = {"BACKEND": "nearcache.contrib.django.NearcacheCache", "LOCATION": url}
    settings.configure(
        DEBUG=False,
        SECRET_KEY="django-suite",
        USE_TZ=False,
        INSTALLED_APPS=["cache"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        CACHES={"default": backend},
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()
    return backend


def suite_class(backend: dict[str, Any]) -> type[unittest.TestCase]:
    from cache import tests as dj  # type: ignore[import-not-found]  # Django's tests/cache, on sys.path
    from django.test import TestCase, override_settings

    import nearcache

    @override_settings(CACHES=dj.caches_setting_for_tests(base=backend, exclude={"cull", "zero_cull"}))
    class NearcacheCacheTests(dj.BaseCacheTests, TestCase):  # type: ignore[misc]
        # What incr()/decr() raise on a value that is not an integer: the
        # server's error, as for Django's RedisCacheTests (redis-py's
        # ResponseError there).
        incr_decr_type_error = nearcache.RedisError

        def test_backend_is_nearcache(self) -> None:
            # Ours, not one of Django's: the suite above ran against nearcache.
            from django.core.cache import caches

            from nearcache.contrib.django import NearcacheCache

            for alias in ("default", "prefix", "v2", "custom_key"):
                self.assertIsInstance(caches[alias], NearcacheCache)

    return NearcacheCacheTests


def main() -> int:
    sys.path.insert(0, str(Path(sys.argv[1]).resolve()))
    proc, url = start_redis()
    try:
        import django
        from django.test.runner import DiscoverRunner

        cls = suite_class(configure(url))
        missing = sorted(name for name in SELF_SKIPPED if not hasattr(cls, name))
        if missing:
            print(f"django-suite: {missing} no longer in BaseCacheTests: update SELF_SKIPPED", file=sys.stderr)
            return 1
        runner = DiscoverRunner(verbosity=1, interactive=False)
        runner.setup_test_environment()
        old_config = runner.setup_databases()
        try:
            result = runner.run_suite(unittest.defaultTestLoader.loadTestsFromTestCase(cls))
        finally:
            runner.teardown_databases(old_config)
            runner.teardown_test_environment()
        skipped = {test.id().rsplit(".", 1)[-1]: reason for test, reason in result.skipped}
        print(f"django-suite: Django {django.get_version()}, BaseCacheTests: {result.testsRun} run, "
              f"{len(result.failures)} failed, {len(result.errors)} errors, {len(skipped)} skipped")
        for name, reason in sorted(skipped.items()):
            print(f"  skipped {name}: {SELF_SKIPPED.get(name, reason)}")
        unexpected = sorted(set(skipped) - set(SELF_SKIPPED))
        if unexpected:
            print(f"django-suite: unexpected skips {unexpected}", file=sys.stderr)
            return 1
        return 0 if result.wasSuccessful() else 1
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # EOF: the launcher stops the server
        proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
