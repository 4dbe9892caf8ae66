"""Unit tests of the held-out explanation generator (benchmarks/_explain_holdout.py).

These check only what the generator draws (labels, sizes, ranges, determinism);
they never run the classifier on it, so no test tunes anything on held-out data.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import pytest

from backend.analytics import AnomalyType
from tests.bench_scripts import load_benchmark

gen = load_benchmark("_explain_holdout")
PER_KIND = 4


@pytest.fixture(scope="module")
def cases() -> list[Any]:
    """Two seeds' worth of cases, PER_KIND of each (background, kind)."""
    drawn: list[Any] = gen.generate_holdout(17, PER_KIND) + gen.generate_holdout(18, PER_KIND)
    return drawn


def test_same_seed_same_cases_other_seed_other_cases() -> None:
    """The generator is a pure function of its seed."""

    def dump(cs: list[Any]) -> list[tuple[object, ...]]:
        return [(c.kind, c.series.values.tolist(), list(c.series.epoch_us), c.window) for c in cs]

    assert dump(gen.generate_holdout(3, 2)) == dump(gen.generate_holdout(3, 2))
    assert dump(gen.generate_holdout(3, 2)) != dump(gen.generate_holdout(4, 2))


def test_cases_are_balanced_and_seasonal_only_on_periodic_backgrounds(cases: list[Any]) -> None:
    """Each background holds PER_KIND cases of each of its kinds per seed, and no flat SEASONAL."""
    counts: dict[tuple[str, AnomalyType], int] = {}
    for c in cases:
        counts[c.background, c.kind] = counts.get((c.background, c.kind), 0) + 1
        assert (c.shape == "flat") == (c.background == "flat")
    expected = {(b, k): 2 * PER_KIND for b, ks in gen.KINDS_BY_BACKGROUND.items() for k in ks}
    assert counts == expected


def test_windows_end_the_series_after_enough_history(cases: list[Any]) -> None:
    """The window ends the series; the history spans 3 days (3 weeks for the weekly shape) at the step."""
    for c in cases:
        n = len(c.series)
        assert c.window.end_index == n and not c.window.is_partial
        step = (c.series.epoch_us[1] - c.series.epoch_us[0]) / 60e6
        assert step == c.step_minutes in gen.STEPS_MIN
        cycle_days = 7 if c.shape == "weekly" else 1
        assert c.window.start_index * c.step_minutes >= 3 * cycle_days * 1440
        length = n - c.window.start_index
        if c.kind is AnomalyType.SEASONAL or c.long_window:
            assert length >= min(65, 720 // c.step_minutes)
        else:
            assert 8 <= length <= 64


def test_values_are_background_plus_event_plus_noise(cases: list[Any]) -> None:
    """Over the window, value - background - event is noise of about the stated sd."""
    for c in cases:
        window = c.series.values.tolist()[c.window.start_index :]
        noise = [
            (v - b - e) / c.noise_sd for v, b, e in zip(window, c.clean_window, c.event_window, strict=True)
        ]
        assert max(map(abs, noise)) < 7.0
    pooled = [
        (v - b - e) / c.noise_sd
        for c in cases
        for v, b, e in zip(
            c.series.values.tolist()[c.window.start_index :], c.clean_window, c.event_window, strict=True
        )
    ]
    assert 0.8 < statistics.pstdev(pooled) < 1.2


def test_each_kind_is_drawn_as_documented(cases: list[Any]) -> None:
    """Spikes, trends, seasonal departures and normal windows have the documented shape and size."""
    for c in cases:
        event = [e / c.noise_sd for e in c.event_window]
        moved = [i for i, e in enumerate(event) if e != 0.0]
        if c.kind is AnomalyType.NORMAL:
            assert moved == []
        elif c.kind is AnomalyType.SPIKE:
            assert 1 <= len(moved) <= 3 and moved == list(range(moved[0], moved[-1] + 1))
            assert len({event[i] for i in moved}) == 1 and 8.0 <= abs(event[moved[0]]) <= 15.0
            assert moved[-1] <= len(event) - 4  # the series comes back before the window ends
        elif c.kind is AnomalyType.TREND:
            assert moved == list(range(moved[0], len(event)))
            assert len(moved) >= max(4, math.ceil(0.3 * len(event)))
            assert 8.0 <= abs(event[-1]) <= 15.0 + 1e-9
            assert all(math.copysign(1.0, e) == math.copysign(1.0, event[-1]) for e in event[moved[0] :])
        else:
            lo, hi = c.history_range
            tol = 1e-9 * max(abs(lo), abs(hi))
            pairs = zip(c.clean_window, c.event_window, strict=True)
            assert all(lo - tol <= b + e <= hi + tol for b, e in pairs)
            assert max(map(abs, event)) >= 5.0
            both_signs = max(event) >= 3.0 and min(event) <= -3.0
            assert both_signs or all(abs(e) < 1.0 for e in event[-3:])


def test_levels_span_many_decades_and_some_metrics_cross_zero(cases: list[Any]) -> None:
    """Levels run from about 1e-3 to 1e6, and metrics around zero take both signs."""
    for c in cases:
        values = c.series.values.tolist()
        if c.around_zero:
            assert min(values) < 0.0 < max(values)
        else:
            level = statistics.median(values)
            assert 5e-4 < level < 2e6
    assert any(c.around_zero for c in cases) and not all(c.around_zero for c in cases)


def test_a_kind_the_background_cannot_hold_is_refused() -> None:
    """SEASONAL is drawn only on periodic backgrounds."""
    import random

    with pytest.raises(ValueError, match="'seasonal' is not drawn on a 'flat' background"):
        gen.make_case(random.Random(1), "flat", AnomalyType.SEASONAL)
