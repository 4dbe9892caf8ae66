"""The code shown to users in QUICKSTART.md runs and does what the text says."""

from __future__ import annotations

import contextlib
import importlib
import io
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def test_quickstart_runs_under_30_lines() -> None:
    """The quickstart block runs, finds the spike on n-17 and explains it, in under 30 lines of code."""
    (block,) = python_blocks(ROOT / "QUICKSTART.md")
    code_lines = [ln for ln in block.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert len(code_lines) < 30
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "QUICKSTART.md", "exec"), {})
    lines = out.getvalue().splitlines()
    assert lines[0] == "n-17 True"
    assert lines[1] == "spike"
    assert "cpu_util" in lines[2] and "n-17" in lines[2] and "acme" in lines[2]


def test_plugin_guide_example_passes_the_kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scorer and engine of docs/plugins.md form a conforming engine that finds a jump."""
    from backend.analytics import MetricSeries
    from backend.analytics.testing import check_engine

    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    section = text.split("## 2. The scorer and the engine", 1)[1]
    (block, *_) = python_blocks_in(section)
    # A module of its own, as in a plugin package: the kit's checkpoint check pickles its streams.
    (tmp_path / "doc_step_plugin.py").write_text(block, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("doc_step_plugin")
    engine_cls = module.StepEngine
    outcomes = check_engine(engine_cls)
    assert all(o.status == "passed" for o in outcomes), outcomes
    values = [10.0 + 0.1 * (i % 3) for i in range(60)] + [30.0] * 5 + [10.0] * 35
    series = MetricSeries.from_arrays("t", "c", "n", "m", [i * 60_000_000 for i in range(100)], values)
    hits = [r for r in engine_cls().detect(series) if r.is_anomalous]
    assert hits and hits[0].window_start == series.timestamps[60]
    sys.modules.pop("doc_step_plugin", None)


def python_blocks_in(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_quickstart_simulator_block_runs() -> None:
    """The 'Simulate a fleet' block of QUICKSTART.md runs and lists ground truth for both tenants."""
    text = (ROOT / "QUICKSTART.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```py\n(.*?)```", text, flags=re.S)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "QUICKSTART.md", "exec"), {})
    tenants = {line.split()[0] for line in out.getvalue().splitlines()}
    assert tenants == {"acme", "globex"}
