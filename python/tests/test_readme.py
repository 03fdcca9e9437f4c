"""The README's Python examples, run against the session's test server.

Every ```python block of README.md is executed with the example URL
(``redis://127.0.0.1:6379``) replaced by the URL of the server the fixtures
launched. A block that defines ``async def main`` without running it is run
with ``asyncio.run``. Blocks that are not meant to run are fenced with their
real language (```sh, ```toml, ```text), so they are not collected here.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, cast

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLE_URL = "redis://127.0.0.1:6379"
BLOCKS = re.findall(r"^```python\n(.*?)^```$", README.read_text(encoding="utf-8"), re.S | re.M)


def test_readme_has_python_examples_with_the_example_url() -> None:
    assert BLOCKS, "README.md has no ```python block"
    for block in BLOCKS:
        assert EXAMPLE_URL in block, f"a README python block does not use {EXAMPLE_URL}"


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index: int, url: str) -> None:
    code = BLOCKS[index].replace(EXAMPLE_URL, url)
    namespace: dict[str, Any] = {"__name__": "__readme__"}
    exec(compile(code, f"README.md, python block {index + 1}", "exec"), namespace)
    main = namespace.get("main")
    if asyncio.iscoroutinefunction(main) and "asyncio.run(" not in code:
        asyncio.run(cast(Callable[[], Coroutine[Any, Any, Any]], main)())
