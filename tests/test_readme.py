"""The README's runnable sections run as pasted (each Python block in a fresh namespace)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from torchlogit.solvers import SOLVERS

README = Path(__file__).resolve().parents[1] / "README.md"


def _section_blocks(title: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"no section {title!r} in the README"
    return re.findall(r"```python\n(.*?)```", match.group(1), re.S)


def test_the_offsets_section_runs():
    blocks = _section_blocks("Offsets")
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md (Offsets)", "exec"), {})


@pytest.mark.skipif(
    not any(cls.capabilities.bounds for cls in SOLVERS.values()),
    reason="needs a bounds solver (engine-solvers branch)",
)
def test_the_bounds_section_runs():
    blocks = _section_blocks("Bounds")
    assert blocks
    for block in blocks:
        namespace: dict = {}
        exec(compile(block, "README.md (Bounds)", "exec"), namespace)
        coef = namespace["clf"].coef_[0]
        assert coef[0] >= 0 and coef[2] >= 0
