"""Smoke test of the installed wheel (scripts/dist/test.sh): python smoke.py URL VERSION.

get/set, invalidation of an L1 entry by a write from outside (redis-cli),
and typed errors, against a launched redis-server.
"""

import subprocess
import sys
import time

import nearcache

url, version = sys.argv[1], sys.argv[2]
assert nearcache.__version__ == version, (nearcache.__version__, version)
assert nearcache.__file__.find("site-packages") >= 0, f"not the installed package: {nearcache.__file__}"

cache = nearcache.Cache(url)
cache.set("smoke:py", b"one")
assert cache.get("smoke:py") == b"one"
assert cache.get_local("smoke:py") == b"one", "the value is not in L1 after a read"
assert cache.get("smoke:missing") is None

# A write from outside nearcache: Redis invalidates the L1 copy.
subprocess.run(["redis-cli", "-u", url, "SET", "smoke:py", "two"], check=True, capture_output=True)
deadline = time.monotonic() + 5
while cache.get("smoke:py") != b"two":
    assert time.monotonic() < deadline, "L1 still serves the old value 5 s after an outside write"
    time.sleep(0.01)

try:
    nearcache.Cache(url, l1={"max_bytes": "lots"})
    raise AssertionError("a bad l1.max_bytes was accepted")
except nearcache.ConfigError as e:
    assert "max_bytes" in str(e), e
try:
    cache.get("k" * (nearcache.MAX_KEY_LEN + 1))
    raise AssertionError("an oversized key was accepted")
except nearcache.InvalidArgumentError:
    pass
cache.close()
print(f"python: nearcache {nearcache.__version__} from {nearcache.__file__}: get/set, invalidation, errors ok")
