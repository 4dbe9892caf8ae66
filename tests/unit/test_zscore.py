"""Unit tests of the built-in zscore engine."""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from typing import Any

import pytest

from backend.analytics import AnomalyType, EngineRegistry, MetricSeries
from backend.analytics.engines import ZScoreEngine

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)


def make(values: list[float]) -> MetricSeries:
    return MetricSeries(
        "acme", "c-1", "n-7", "cpu", [T0 + timedelta(minutes=i) for i in range(len(values))], values
    )


def noise(n: int, seed: int, mu: float = 50.0, sd: float = 1.0) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(mu, sd) for _ in range(n)]


def reference_scores(values: list[float], engine: ZScoreEngine) -> list[tuple[int, float]]:
    """Exact (rational arithmetic) computation of every window's score, for comparison."""
    w, stride, b = engine.window_size_points, engine.stride_points, engine.baseline_points
    exact = [Fraction(v) for v in values]
    out = []
    for s in range(0, len(values) - w + 1, stride):
        base = exact[max(0, s - b) : s]
        if len(base) < engine.min_baseline_points:
            continue
        mu = sum(base, Fraction(0)) / len(base)
        sd = math.sqrt(sum(((v - mu) ** 2 for v in base), Fraction(0)) / len(base))
        dev = float(max(abs(v - mu) for v in exact[s : s + w]))
        floor = max(sd, 1e-12 * abs(float(mu)), 2.2250738585072014e-308)
        z = 0.0 if dev == 0 else dev / floor
        out.append((s, z / (z + engine.threshold)))
    return out


def test_spike_found_and_labeled() -> None:
    """A single-point spike is flagged in its window and nowhere else."""
    vals = noise(300, 1)
    vals[212] += 15.0
    results = ZScoreEngine().detect(make(vals))
    flagged = [r for r in results if r.is_anomalous]
    assert flagged, "spike not found"
    assert all(r.window_start <= T0 + timedelta(minutes=212) <= r.window_end for r in flagged)
    assert {r.anomaly_label for r in flagged} == {AnomalyType.SPIKE}
    assert all(r.explanation and "cpu" in r.explanation for r in flagged)


def test_level_shift_is_trend() -> None:
    """A level shift persisting to the window end is labeled TREND."""
    vals = noise(300, 2)
    vals[240:] = [v + 12.0 for v in vals[240:]]
    results = ZScoreEngine(classify=False).detect(make(vals))
    first = next(r for r in results if r.is_anomalous)
    assert first.window_end >= T0 + timedelta(minutes=240)
    assert any(r.anomaly_label is AnomalyType.TREND for r in results if r.is_anomalous)


def test_scores_match_two_pass_reference() -> None:
    """Streaming sums give the same scores as an exact two-pass computation."""
    vals = noise(2000, 3)
    vals[1500] += 9.0
    engine = ZScoreEngine(window_size_points=7, stride_points=3, baseline_points=50, min_baseline_points=10)
    got = [
        (int((r.window_start - T0).total_seconds() // 60), r.anomaly_score) for r in engine.detect(make(vals))
    ]
    ref = reference_scores(vals, engine)
    assert [s for s, _ in got] == [s for s, _ in ref]
    for (_, a), (_, b) in zip(got, ref, strict=True):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12)


def test_stable_at_1e9_with_tiny_variance() -> None:
    """Values around 1e9 with sd 0.01: scores match the exact reference; a 0.2 jump is found."""
    rng = random.Random(4)
    vals = [1e9 + rng.gauss(0, 0.01) for _ in range(3000)]
    vals[2600] += 0.2
    engine = ZScoreEngine(classify=False)
    results = engine.detect(make(vals))
    ref = dict(reference_scores(vals, engine))
    for r in results:
        s = int((r.window_start - T0).total_seconds() // 60)
        assert r.anomaly_score == pytest.approx(ref[s], rel=1e-6, abs=1e-9)
    flagged = [r for r in results if r.is_anomalous]
    assert flagged and all(r.window_start <= T0 + timedelta(minutes=2600) <= r.window_end for r in flagged)


def test_constant_series_is_normal() -> None:
    """A constant series gives NORMAL windows with score 0."""
    results = ZScoreEngine().detect(make([7.25] * 200))
    assert results and all(r.anomaly_label is AnomalyType.NORMAL and r.anomaly_score == 0.0 for r in results)


@pytest.mark.parametrize("n", [0, 1, 30, 39])
def test_too_short_gives_nothing(n: int) -> None:
    """Empty or too short for one window with enough baseline: []."""
    assert ZScoreEngine(window_size_points=10, min_baseline_points=30).detect(make([1.0] * n)) == []


@pytest.mark.parametrize(
    "values",
    [
        [1e-300 * (1 + 0.01 * (i % 7)) for i in range(200)],
        [1.7e308 if i % 2 else -1.7e308 for i in range(200)],
        [0.0] * 150 + [5e-324] * 50,
        [1e308] * 150 + [-1e308] * 50,
        [0.0] * 150 + [1.0] * 50,
        [1e-300] * 150 + [1e300] * 50,
    ],
    ids=["tiny", "huge-alternating", "zero-then-subnormal", "huge-flip", "flat-jump", "tiny-to-huge"],
)
def test_extreme_scales_give_finite_scores(values: list[float]) -> None:
    """Any valid series gives finite scores in [0, 1] and never raises."""
    results = ZScoreEngine().detect(make(values))
    assert results
    for r in results:
        assert 0.0 <= r.anomaly_score <= 1.0 and math.isfinite(r.anomaly_score)
        assert r.magnitude is not None and 0.0 <= r.magnitude <= 1.0


def test_tiny_scale_matches_unit_scale() -> None:
    """Scores are scale-invariant: the same shape at 1e-300 and at 1 scores the same."""
    shape = noise(400, 5, mu=10.0)
    shape[350] += 8.0
    a = [r.anomaly_score for r in ZScoreEngine(classify=False).detect(make(shape))]
    b = [r.anomaly_score for r in ZScoreEngine(classify=False).detect(make([v * 1e-300 for v in shape]))]
    assert a == pytest.approx(b, rel=1e-6)


def test_flat_then_jump_is_anomalous() -> None:
    """A perfectly flat baseline followed by a jump is flagged with a finite score."""
    results = ZScoreEngine(classify=False).detect(make([3.0] * 100 + [4.0] * 20))
    flagged = [r for r in results if r.is_anomalous]
    assert flagged and all(r.anomaly_score < 1.0 or r.anomaly_score == 1.0 for r in flagged)
    assert flagged[0].window_end >= T0 + timedelta(minutes=100)


def test_label_normal_exactly_below_half() -> None:
    """NORMAL exactly when score < 0.5 (z below threshold)."""
    vals = noise(1000, 6)
    for i in range(100, 1000, 97):
        vals[i] += 4.5
    for r in ZScoreEngine().detect(make(vals)):
        assert (r.anomaly_label is AnomalyType.NORMAL) == (r.anomaly_score < 0.5)


def test_results_ordered_and_carry_ids() -> None:
    """Results carry the four ids and are ordered by window_start."""
    results = ZScoreEngine().detect(make(noise(500, 7)))
    assert all(
        r.tenant_id == "acme" and r.cluster_id == "c-1" and r.node_id == "n-7" and r.metric_name == "cpu"
        for r in results
    )
    starts = [r.window_start for r in results]
    assert starts == sorted(starts)


def test_stream_rejects_out_of_order_and_foreign_chunks() -> None:
    """The stream validates continuity and ids."""
    engine = ZScoreEngine()
    stream = engine.stream("acme", "c-1", "n-7", "cpu")
    stream.update(make([1.0, 2.0]))
    with pytest.raises(ValueError, match="must be later than the last point seen"):
        stream.update(make([3.0]))
    other = MetricSeries("other", "c-1", "n-7", "cpu", [T0 + timedelta(days=1)], [1.0])
    with pytest.raises(ValueError, match="differ from the stream's"):
        stream.update(other)
    with pytest.raises(ValueError, match="tenant_id must be a non-empty str"):
        engine.stream("", "c", "n", "m")


def test_stream_push_matches_detect() -> None:
    """Pushing points one at a time gives the same results as detect."""
    vals = noise(400, 8)
    vals[300] += 10
    series = make(vals)
    engine = ZScoreEngine(window_size_points=6, stride_points=4, baseline_points=40, min_baseline_points=20)
    stream = engine.stream(*series.ids)
    pushed = []
    for t, v in zip(series.timestamps, series.values, strict=True):
        pushed.extend(stream.push(t, v))
    assert pushed == engine.detect(series)
    assert stream.points_seen == 400


@pytest.mark.parametrize(
    ("kw", "exc", "text"),
    [
        ({"threshold": 0}, ValueError, "threshold must be a positive number"),
        ({"threshold": "3"}, TypeError, "threshold must be a finite real number"),
        (
            {"baseline_points": 10, "min_baseline_points": 20},
            ValueError,
            "min_baseline_points must be <= baseline_points",
        ),
        ({"stride_points": 0}, ValueError, "stride_points must be a positive int"),
        ({"classify": 1}, TypeError, "classify must be a bool"),
    ],
)
def test_bad_configuration(kw: dict[str, object], exc: type[Exception], text: str) -> None:
    """Bad settings raise naming the argument."""
    with pytest.raises(exc, match=text):
        EngineRegistry.default().create("zscore", **kw)


def seasonal_series(period: int, cycles: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [50 + 20 * math.sin(2 * math.pi * i / period) + rng.gauss(0, 1) for i in range(period * cycles)]


def test_seasonal_mode_finds_a_phase_shift_the_plain_mode_cannot() -> None:
    """With seasonal_period_points, a shifted half-cycle inside the usual range is flagged SEASONAL."""
    period = 48
    vals = seasonal_series(period, 12, seed=3)
    shifted = range(period * 10, period * 10 + period // 2)
    rng = random.Random(4)
    for i in shifted:
        vals[i] = 50 + 20 * math.sin(2 * math.pi * (i + period // 4) / period) + rng.gauss(0, 1)
    s = MetricSeries("t", "c", "n", "m", [T0 + timedelta(minutes=30 * i) for i in range(len(vals))], vals)
    config: dict[str, Any] = {"window_size_points": 6, "stride_points": 6, "baseline_points": 4 * period}
    assert not [r for r in ZScoreEngine(**config).detect(s) if r.is_anomalous]
    flagged = [r for r in ZScoreEngine(**config, seasonal_period_points=period).detect(s) if r.is_anomalous]
    assert flagged
    first, last = T0 + timedelta(minutes=30 * shifted[0]), T0 + timedelta(minutes=30 * shifted[-1])
    assert all(first <= r.window_start and r.window_end <= last for r in flagged)
    assert {r.anomaly_label for r in flagged} == {AnomalyType.SEASONAL}


def test_seasonal_mode_starts_after_one_period_and_survives_extremes() -> None:
    """No window before three full periods; +-1e308 flips give finite scores."""
    engine = ZScoreEngine(
        window_size_points=4, stride_points=4, min_baseline_points=8, seasonal_period_points=10
    )
    results = engine.detect(make([1.7e308 if (i // 5) % 2 else -1.7e308 for i in range(120)]))
    assert results and results[0].window_start >= T0 + timedelta(minutes=30)
    assert all(0.0 <= r.anomaly_score <= 1.0 for r in results)
    with pytest.raises(ValueError, match="seasonal_period_points must be a positive int, got 0"):
        ZScoreEngine(seasonal_period_points=0)


@pytest.mark.parametrize("name", ["zscore", "novelty", "contextual", "combined"])
def test_classifier_history_bounds_stream_memory(name: str) -> None:
    """classifier_history_points trades labelling history for buffered points; results stay exact."""
    from backend.analytics.testing import check_engine

    registry = EngineRegistry.default()
    config = {"classifier_history_points": 256}
    if name == "zscore":
        config["baseline_points"] = 200
    engine = registry.create(name, **config)
    vals = noise(3000, 9)
    vals[2500] += 25.0
    s = make(vals)
    stream = engine.stream(*s.ids)  # type: ignore[attr-defined]
    got = []
    for lo in range(0, 3000, 250):
        got.extend(stream.update(s.slice(lo, lo + 250)))
    assert got == engine.detect(s)
    assert len(stream._vals) < 2 * (256 + 250 + 32)
    assert all(o.status == "passed" for o in check_engine(registry.get(name), config=config))
    with pytest.raises(ValueError, match="classifier_history_points"):
        registry.create(name, classifier_history_points=4)
    with pytest.raises(TypeError, match="classifier_history_points must be a positive int"):
        registry.create(name, classifier_history_points=2.5)
