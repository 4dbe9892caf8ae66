"""Unit tests of the calendar tuning generator (benchmarks/_explain_tuning.py): what it draws."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path
from typing import Any

from backend.analytics import AnomalyType

REPO = Path(__file__).resolve().parents[2]


def _load() -> Any:
    """``benchmarks/_explain_tuning.py`` as a module (benchmarks are scripts, not a package)."""
    path = REPO / "benchmarks" / "_explain_tuning.py"
    spec = importlib.util.spec_from_file_location("_explain_tuning", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


gen = _load()


def test_balanced_deterministic_and_the_window_ends_the_series() -> None:
    cases = gen.generate_calendar_cases(5, 3)
    again = gen.generate_calendar_cases(5, 3)
    assert [c.series.values.tolist() for c in cases] == [c.series.values.tolist() for c in again]
    counts: dict[tuple[str, AnomalyType], int] = {}
    for c in cases:
        counts[c.background, c.kind] = counts.get((c.background, c.kind), 0) + 1
        assert c.window.end_index == len(c.series)
        assert c.kind in gen.KINDS_BY_BACKGROUND[c.background]
    assert set(counts.values()) == {3} and len(counts) == 7


def test_steps_are_regular_and_seasonal_cases_have_three_days_of_history() -> None:
    for c in gen.generate_calendar_cases(6, 4):
        us = list(c.series.epoch_us)
        step = us[1] - us[0]
        assert step // 60_000_000 in gen.STEPS_MIN
        assert all(b - a == step for a, b in itertools.pairwise(us))
        if c.kind is AnomalyType.SEASONAL:
            assert c.window.start_index * step >= 3 * 86_400_000_000
        else:
            assert c.window.start_index * step >= 2.2 * 86_400_000_000 - step
