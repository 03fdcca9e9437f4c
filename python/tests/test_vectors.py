"""The compression frame vectors (tests/vectors/frames.json) through the
Python API against a real server, as the Node and C suites do:

- encode cases: a cache with the case's compression config writes the input,
  and the raw bytes in Redis (GET through ``command``) are the pinned frame;
- every case: the stored bytes written raw are read back through ``get`` as
  the original value, or fail with the pinned error code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nearcache

VECTORS = Path(__file__).resolve().parents[2] / "tests" / "vectors" / "frames.json"
CASES: list[dict[str, Any]] = json.loads(VECTORS.read_text())


@pytest.fixture(scope="module")
def reader(url: str) -> Iterator[nearcache.Cache]:
    # L1 off: every get decodes what is in Redis now.
    c = nearcache.Cache(url, l1={"invalidation": "off"})
    yield c
    c.close()


def test_the_file_has_every_kind_of_case() -> None:
    assert len([c for c in CASES if "input_hex" in c]) >= 5
    assert any("expect_error" in c for c in CASES)


@pytest.mark.parametrize("case", [c for c in CASES if "input_hex" in c], ids=lambda c: str(c["name"]))
def test_encode(case: dict[str, Any], url: str, ns: str, reader: nearcache.Cache) -> None:
    key = f"{ns}{case['name']}"
    with nearcache.Cache(url, l1={"invalidation": "off"}, compression=case["config"]) as writer:
        writer.set(key, bytes.fromhex(case["input_hex"]))
        assert writer.command("GET", key) == bytes.fromhex(case["stored_hex"])
    assert reader.get(key) == bytes.fromhex(case["input_hex"])


@pytest.mark.parametrize("case", CASES, ids=lambda c: str(c["name"]))
def test_decode(case: dict[str, Any], ns: str, reader: nearcache.Cache) -> None:
    key = f"{ns}{case['name']}"
    reader.command("SET", key, bytes.fromhex(case["stored_hex"]))
    if "expect_error" in case:
        with pytest.raises(nearcache.NearcacheError) as err:
            reader.get(key)
        assert err.value.code == case["expect_error"]
        assert isinstance(err.value, nearcache.CodecError)
    else:
        want: str = case["output_hex"] if "output_hex" in case else case["input_hex"]
        assert reader.get(key) == bytes.fromhex(want)
