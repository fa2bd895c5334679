"""The README's real/validated-only table is the one `make demo` prints (scripts/components.py)."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

from components import COMPONENTS  # noqa: E402


def test_readme_component_table_matches_components():
    text = (ROOT / "README.md").read_text()
    block = text.split("<!-- components:start -->")[1].split("<!-- components:end -->")[0]
    rows = block.strip().splitlines()[2:]
    parsed = [tuple(cell.strip() for cell in row.strip().strip("|").split("|")) for row in rows]
    assert parsed == [tuple(c) for c in COMPONENTS]
    assert all(c.status in ("real", "validated-only") for c in COMPONENTS)


def test_readme_names_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert "make demo" in text and "make test" in text
