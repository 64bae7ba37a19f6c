"""The Python examples of README.md and docs/library.md run as written (a renamed API must not leave them stale)."""

import re

import pytest

from tests.conftest import REPO

PAGES = ("README.md", "docs/library.md")
BLOCKS = [
    (page, block)
    for page in PAGES
    for block in re.findall(r"```python\n(.*?)```", (REPO / page).read_text(), flags=re.S)
]


def test_the_docs_have_python_examples():
    assert any(page == "docs/library.md" for page, _ in BLOCKS)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_python_example_runs(index):
    page, block = BLOCKS[index]
    exec(compile(block, f"{page} python block {index}", "exec"), {})
