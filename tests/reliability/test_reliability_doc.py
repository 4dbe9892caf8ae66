"""RELIABILITY.md stays true: every test it cites exists, and its figures come from a long run."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "RELIABILITY.md"


def test_every_cited_test_exists() -> None:
    """Each `test_name` of a table row, bullet or paragraph is defined in a test file it cites."""
    cited = 0
    text = DOC.read_text(encoding="utf-8")
    # A block is a table row, a bullet (with its continuation lines) or a paragraph.
    for block in re.split(r"\n(?=\s*(?:- |\|)|\s*\n)", text):
        files = re.findall(r"tests/[\w/]+\.py", block)
        for name in re.findall(r"`(?:tests/[\w/]+\.py::)?(test_\w+)`", block):
            sources = [(ROOT / f).read_text(encoding="utf-8") for f in files]
            assert any(f"def {name}(" in s for s in sources), f"{name} is not in {files}: {block[:80]}"
            cited += 1
    assert cited >= 30


def test_the_figures_are_filled_in() -> None:
    """No placeholder is left where a long run's figures belong."""
    assert "FIG_" not in DOC.read_text(encoding="utf-8")


def test_readme_links_it() -> None:
    assert "[RELIABILITY.md](RELIABILITY.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
