# The two commands of the README. Everything builds in one cargo workspace
# with one target directory.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: demo test deps lint unit python-test bench

## Build everything and run a short demo against a throwaway local Redis.
demo: deps
	$(CARGO) run --release -p nearcache --features test-util --example demo -- --seconds 3

## Run every test (what CI runs).
test: deps lint unit python-test

deps:
	@scripts/install-deps.sh

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

unit:
	$(CARGO) test --workspace --locked
	bash tests/launcher-test.sh

## The Python package: build it into .venv (release wheel, like `pip install
## ./python`), run the pytest suite against a launched redis-server, check the
## stubs against the native module (stubtest) and type-check package and tests.
PYTHON ?= python3
VENV := .venv
python-test: deps
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check "./python[test]"
	$(VENV)/bin/python -m pytest python/tests -q
	$(VENV)/bin/python -m mypy.stubtest nearcache._native
	$(VENV)/bin/python -m mypy --strict python/py_src/nearcache python/tests

## Criterion benchmarks (not part of `make test`; numbers go to the README).
bench: deps
	$(CARGO) bench -p nearcache --bench l1_hit --bench redis_path --bench codec
