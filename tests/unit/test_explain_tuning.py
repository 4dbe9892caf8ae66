"""Unit tests of the calendar tuning generator (benchmarks/_explain_tuning.py): what it draws."""

from __future__ import annotations

import itertools

from backend.analytics import AnomalyType
from tests.bench_scripts import load_benchmark

gen = load_benchmark("_explain_tuning")


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
