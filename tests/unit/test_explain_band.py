"""The expected band: what the history before a stretch of points expects of them (the report's band)."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone

import pytest

from backend.analytics import EngineRegistry, ExplanationClassifier, MetricSeries
from backend.analytics.report import render_report
from backend.analytics.scoring import PointScoringEngine

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)  # a Monday
DAY = 288  # points a day at 5-minute steps


def _cycle(days: int = 4, seed: int = 0, noise: float = 1.0) -> tuple[MetricSeries, list[float]]:
    """A daily sine of amplitude 20 around 100 at 5-minute steps; returns the series and the sine."""
    rng = random.Random(seed)
    n = DAY * days
    truth = [100.0 + 20.0 * math.sin(2 * math.pi * i / DAY) for i in range(n)]
    values = [v + rng.gauss(0.0, noise) for v in truth]
    stamps = [T0 + timedelta(minutes=5 * i) for i in range(n)]
    return MetricSeries("acme", "c-1", "n-1", "cpu", stamps, values), truth


def test_the_band_follows_the_daily_cycle_and_holds_its_normal_points() -> None:
    """On the last day of a noisy daily sine, the band's middle is the cycle and 3 sd hold the points."""
    clf = ExplanationClassifier()
    inside = total = 0
    off: list[float] = []
    for seed in range(4):
        s, truth = _cycle(seed=seed)
        start, end = 3 * DAY, 4 * DAY
        band = clf.expected_band(s, start, end)
        assert band is not None
        lower, upper = band
        for i, (lo, hi) in enumerate(zip(lower, upper, strict=True)):
            # The middle is the sine the noise was added to, up to the error of a median of the last
            # days; the width about 3 sd each way (the noise's, plus that error).
            off.append(abs((lo + hi) / 2.0 - truth[start + i]))
            assert 5.0 < hi - lo < 9.0
            inside += lo <= s.values[start + i] <= hi
            total += 1
    assert inside >= 0.99 * total
    # (The median of three noisy days misses the sine by about 0.53 noise sd on average.)
    assert sum(off) / len(off) < 0.7 and max(off) < 3.5


def test_a_spike_lies_outside_the_band_and_does_not_move_it() -> None:
    """A 15-sd spike is outside the band; the band of its stretch is the band without it."""
    s, _ = _cycle()
    values = s.values.tolist()
    values[3 * DAY + 100] += 15.0
    spiked = MetricSeries.from_arrays(*s.ids, list(s.epoch_us), values)
    clf = ExplanationClassifier()
    band = clf.expected_band(spiked, 3 * DAY + 50, 3 * DAY + 150)
    assert band is not None
    assert not band[0][50] <= values[3 * DAY + 100] <= band[1][50]
    assert band == clf.expected_band(s, 3 * DAY + 50, 3 * DAY + 150)


def test_without_a_cycle_the_band_is_the_recent_level_give_or_take_its_spread() -> None:
    """Noise around a level: one band for every point, about the level +- 3 sd."""
    rng = random.Random(7)
    values = [50.0 + rng.gauss(0.0, 2.0) for _ in range(500)]
    s = MetricSeries("acme", "c-1", "n-1", "cpu", [T0 + timedelta(minutes=i) for i in range(500)], values)
    band = ExplanationClassifier().expected_band(s, 400, 420)
    assert band is not None
    assert len(set(band[0])) == 1 and len(set(band[1])) == 1
    assert abs((band[0][0] + band[1][0]) / 2.0 - 50.0) < 1.0
    assert 9.0 < band[1][0] - band[0][0] < 15.0  # 6 sd of 2


def test_too_little_history_gives_no_band() -> None:
    s, _ = _cycle(days=1)
    clf = ExplanationClassifier()
    assert clf.expected_band(s, 0, 10) is None
    assert clf.expected_band(s, 1, 10) is None
    assert clf.expected_band(s, 2, 10) is not None


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((5.0, 10), {}, TypeError, r"start_index must be an int, got 5.0 \(float\)"),
        ((True, 10), {}, TypeError, r"start_index must be an int, got True \(bool\)"),
        ((5, None), {}, TypeError, r"end_index must be an int, got None \(NoneType\)"),
        ((10, 10), {}, ValueError, r"< end_index <= len\(series\) = 288, got start_index=10"),
        ((-1, 10), {}, ValueError, r"start_index=-1"),
        ((5, 289), {}, ValueError, r"end_index=289"),
        ((5, 10), {"width_sd": -1.0}, ValueError, r"width_sd must be a finite real number >= 0, got -1.0"),
        ((5, 10), {"width_sd": math.nan}, ValueError, r"width_sd must be a finite real number"),
        ((5, 10), {"width_sd": "3"}, TypeError, r"width_sd must be a finite real number"),
    ],
)
def test_bad_arguments_are_refused_with_what_was_expected(
    args: tuple[object, object], kwargs: dict[str, object], error: type[Exception], match: str
) -> None:
    s, _ = _cycle(days=1)
    with pytest.raises(error, match=match):
        ExplanationClassifier().expected_band(s, *args, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"series must be a MetricSeries, got \[1.0, 2.0\] \(list\)"):
        ExplanationClassifier().expected_band([1.0, 2.0], 0, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["zscore", "novelty", "contextual", "combined"])
def test_every_built_in_engine_offers_its_explanations_band(name: str) -> None:
    """An engine's band is its classifier's (a default one, in the engine's week, without labels)."""
    s, _ = _cycle()
    registry = EngineRegistry.default()
    labelled = registry.create(name)
    assert isinstance(labelled, PointScoringEngine)
    assert labelled.expected_band(s, 3 * DAY, 3 * DAY + 20) == ExplanationClassifier().expected_band(
        s, 3 * DAY, 3 * DAY + 20
    )
    unlabelled = registry.create(name, classify=False)
    assert isinstance(unlabelled, PointScoringEngine)
    band = labelled.expected_band(s, 3 * DAY, 3 * DAY + 20)
    assert unlabelled.expected_band(s, 3 * DAY, 3 * DAY + 20) == band
    if name in {"zscore", "combined"}:  # (the engines that read a local week)
        shifted = registry.create(name, classify=False, utc_offset_minutes=-480)
        assert isinstance(shifted, PointScoringEngine)
        assert shifted.expected_band(s, 3 * DAY, 3 * DAY + 20) == ExplanationClassifier(
            utc_offset_minutes=-480
        ).expected_band(s, 3 * DAY, 3 * DAY + 20)


def test_the_report_draws_a_built_in_engines_band() -> None:
    """The report of a zscore run on a daily cycle draws the band around its anomaly."""
    s, _ = _cycle()
    values = s.values.tolist()
    values[3 * DAY + 100] += 30.0
    spiked = MetricSeries.from_arrays(*s.ids, list(s.epoch_us), values)
    engine = EngineRegistry.default().create("zscore")
    results = engine.detect(spiked)
    assert any(r.is_anomalous for r in results)
    html = render_report(results, series_for=lambda r: spiked, engine=engine)
    assert html.count('class="band"') == 1
    assert "blue band: what the explanation measures against" in html
