"""Unit tests of the built-in contextual engine and its streaming core."""

from __future__ import annotations

import itertools
import math
import random
from datetime import datetime, timedelta, timezone

import pytest

from backend.analytics import AnomalyResult, AnomalyType, MetricSeries
from backend.analytics.engines.contextual import (
    DEFAULT_THRESHOLD,
    ContextualEngine,
    ContextualScorer,
)
from backend.analytics.scoring import raw_to_unit
from backend.analytics.testing import check_engine

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)


def make(values: list[float]) -> MetricSeries:
    """Hourly points: the engine's quiet first day (24 points) ends inside its warm-up."""
    return MetricSeries(
        "acme", "c-1", "n-7", "cpu", [T0 + timedelta(hours=i) for i in range(len(values))], values
    )


def noise(n: int, seed: int, mu: float = 50.0, sd: float = 1.0) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(mu, sd) for _ in range(n)]


def calm(n: int, seed: int, mu: float = 50.0) -> list[float]:
    """Bounded noise, mu +- 1: the warm-up sees its whole range, so later points bring no new level."""
    rng = random.Random(seed)
    return [mu + rng.uniform(-1.0, 1.0) for _ in range(n)]


def daily(n: int, seed: int, period: int = 48) -> list[float]:
    """A periodic series with a little bounded noise (period in points)."""
    rng = random.Random(seed)
    return [50.0 + 10.0 * math.sin(2 * math.pi * i / period) + rng.uniform(-0.1, 0.1) for i in range(n)]


# -- contract ------------------------------------------------------------------------


def test_conformance_kit_passes() -> None:
    """Every contract check of backend.analytics.testing passes with the defaults."""
    check_engine(ContextualEngine)


def test_conformance_kit_passes_with_windows_and_without_classifier() -> None:
    """The contract also holds for wider, strided windows, a short warm-up and no classifier."""
    check_engine(
        ContextualEngine,
        config={"window_size_points": 5, "stride_points": 3, "warmup_points": 20, "classify": False},
    )


def test_engine_declares_name_and_causality() -> None:
    """The engine is named 'contextual' and is causal."""
    assert ContextualEngine.name == "contextual"
    assert ContextualEngine.causal is True
    assert ContextualEngine().evidence_threshold == DEFAULT_THRESHOLD
    assert ContextualEngine().score_threshold == 0.5


def test_one_result_per_point_by_default() -> None:
    """With the default window of 1 point and stride 1, every point gets a result, in order, with ids."""
    s = make(noise(300, 1))
    results = ContextualEngine().detect(s)
    assert len(results) == 300
    assert [r.window_start for r in results] == list(s.timestamps)
    assert all(r.window_start == r.window_end for r in results)
    assert {(r.tenant_id, r.cluster_id, r.node_id, r.metric_name) for r in results} == {s.ids}


def test_empty_and_short_series_give_no_results() -> None:
    """An empty series, or one shorter than the window, gives []."""
    assert ContextualEngine().detect(make([])) == []
    assert ContextualEngine(window_size_points=5).detect(make([1.0, 2.0, 3.0, 4.0])) == []


# -- behaviour -----------------------------------------------------------------------


def test_warmup_points_score_zero() -> None:
    """The first warmup_points points score 0, whatever they hold."""
    vals = noise(400, 2)
    vals[10] = 1e6
    vals[120] = -1e6
    scores = ContextualScorer(warmup_points=250).update_many(vals)
    assert scores[:250] == [0.0] * 250


def test_constant_series_scores_zero() -> None:
    """A constant series never meets a new context: every score is 0 and every window NORMAL."""
    results = ContextualEngine().detect(make([42.5] * 700))
    assert {r.anomaly_score for r in results} == {0.0}
    assert {r.anomaly_label for r in results} == {AnomalyType.NORMAL}


def test_periodic_series_without_anomaly_raises_no_alarm() -> None:
    """A clean periodic series learnt in the warm-up stays below the threshold throughout."""
    results = ContextualEngine().detect(make(daily(2000, 3)))
    assert not any(r.is_anomalous for r in results)


def test_spike_after_warmup_is_detected_once() -> None:
    """A spike far above the learnt range raises one alarm, on the spike itself."""
    vals = calm(600, 3)
    vals[400] = 80.0
    results = ContextualEngine().detect(make(vals))
    alarms = [i for i, r in enumerate(results) if r.is_anomalous]
    assert alarms == [400]
    assert results[400].anomaly_score > 0.3
    assert results[400].magnitude is not None and results[400].magnitude > 0.0


def test_level_shift_alarms_at_onset_and_not_again_and_again() -> None:
    """A lasting level shift alarms at its onset; the rest period keeps it from alarming repeatedly."""
    vals = calm(600, 4) + calm(400, 5, mu=70.0)
    alarms = [i for i, r in enumerate(ContextualEngine().detect(make(vals))) if r.is_anomalous]
    assert alarms and alarms[0] == 600
    assert len(alarms) <= 4


def test_changed_shape_inside_the_range_is_detected() -> None:
    """A periodic series that stops oscillating, flat at a level inside its range, is flagged while flat."""
    vals = daily(1500, 6)
    vals[1000:1100] = [42.0 + 0.01 * (i % 3) for i in range(100)]
    results = ContextualEngine().detect(make(vals))
    alarms = [i for i, r in enumerate(results) if r.is_anomalous]
    assert alarms and 1000 <= alarms[0] < 1100


def test_repeated_context_is_not_new() -> None:
    """A context learnt before is no news: the second identical spike scores below the first."""
    vals = noise(1200, 6)
    vals[400] = 90.0
    vals[1000] = 90.0
    scores = ContextualScorer().update_many(vals)
    assert scores[400] > 0.3
    assert scores[1000] < scores[400]


def test_noisier_series_trusts_its_channels_less() -> None:
    """Rate weighting: the same jump scores lower after a walk that kept finding new contexts."""
    quiet = ContextualScorer()
    quiet.update_many(noise(3000, 7))
    busy = ContextualScorer()
    rng = random.Random(8)
    walk = [50.0]
    for _ in range(2999):
        walk.append(walk[-1] + rng.gauss(0.0, 1.0))
    busy.update_many(walk)
    # New levels (the four level channels) keep coming in the walk, hardly ever in the noise.
    assert sum(busy._counts[:4]) > 3 * sum(quiet._counts[:4])
    assert 0.0 < busy.update(1e9) < quiet.update(1e9)


def test_escalation_passes_the_rest_period() -> None:
    """Within the rest period a higher score is still reported; an equal or lower one is not."""
    vals = noise(700, 9)
    vals[400] = 58.0
    vals[410] = 200.0
    vals[420] = 57.0
    scores = ContextualScorer().update_many(vals)
    assert scores[400] > 0.0
    assert scores[410] > scores[400]
    assert scores[420] == 0.0


def test_rest_points_zero_reports_every_new_context() -> None:
    """With rest_points=0 nothing is suppressed: a lower score right after an alarm is still reported."""
    vals = noise(700, 9)
    vals[410] = 200.0
    vals[411] = 57.0
    scores = ContextualScorer(rest_points=0).update_many(vals)
    assert scores[410] > 0.0 and scores[411] > 0.0


def test_window_score_is_max_of_point_scores() -> None:
    """A wider window scores the largest point score inside it."""
    vals = noise(600, 10)
    vals[433] = 99.0
    points = ContextualScorer().update_many(vals)
    results = ContextualEngine(window_size_points=10, stride_points=4).detect(make(vals))
    for k, r in enumerate(results):
        start = 4 * k
        assert r.anomaly_score == raw_to_unit(max(points[start : start + 10]), DEFAULT_THRESHOLD)
    assert len(results) == (600 - 10) // 4 + 1


def test_label_is_normal_exactly_below_threshold() -> None:
    """NORMAL exactly when the score is below 0.5; evidence_threshold is the raw score landing there."""
    vals = noise(900, 11)
    for i in (300, 520, 730):
        vals[i] = 50.0 + (i - 250) / 5.0
    raw = ContextualScorer().update_many(vals)
    engine = ContextualEngine(evidence_threshold=0.3, classify=False)
    results = engine.detect(make(vals))
    assert any(r.is_anomalous for r in results)
    for r, evidence in zip(results, raw, strict=True):
        assert (r.anomaly_label is AnomalyType.NORMAL) == (r.anomaly_score < 0.5) == (evidence < 0.3)
    assert engine.score_threshold == 0.5


def test_scores_are_finite_at_extreme_scales() -> None:
    """Flat then a jump, at 1e-300 and 1e308 and across them, gives finite scores in [0, 1)."""
    jumps = [
        [1e-300] * 300 + [1e308] * 10,
        [0.0] * 300 + [1e-300] * 10,
        [-1e308] * 300 + [1e308] * 100,
        [v * 1e-300 for v in noise(300, 12)] + [1e-290],
        [v * 1e306 for v in noise(300, 13)] + [-1e308],
    ]
    for vals in jumps:
        scores = ContextualScorer().update_many(vals)
        assert all(math.isfinite(s) and 0.0 <= s < 1.0 for s in scores)
        assert max(scores[250:]) > 0.3


def test_flat_then_jump_is_anomalous() -> None:
    """A series flat during the warm-up that then jumps is flagged at the jump."""
    results = ContextualEngine().detect(make([7.0] * 300 + [7.5] * 20))
    assert results[300].is_anomalous
    assert not any(r.is_anomalous for r in results[:300])


def test_same_input_same_output() -> None:
    """Deterministic: two runs on the same series give equal results."""
    vals = noise(800, 14)
    vals[500] = 75.0
    assert ContextualEngine().detect(make(vals)) == ContextualEngine().detect(make(vals))


# -- streaming -----------------------------------------------------------------------


def test_update_equals_update_many() -> None:
    """Feeding values one by one gives the same scores as one batch."""
    vals = noise(700, 14)
    vals[500] = 70.0
    one = ContextualScorer()
    assert [one.update(v) for v in vals] == ContextualScorer().update_many(vals)
    assert one.points_seen == 700 and one.warmed_up
    assert not ContextualScorer().warmed_up


def test_stream_chunks_equal_detect() -> None:
    """A stream fed in uneven chunks returns exactly the results of detect on the whole series."""
    vals = noise(3000, 15)
    vals[900] = 95.0
    vals[2300:] = [v + 20.0 for v in vals[2300:]]
    s = make(vals)
    engine = ContextualEngine(window_size_points=3, stride_points=2)
    expected = engine.detect(s)
    rng = random.Random(16)
    cuts = sorted(rng.sample(range(1, 3000), 25))
    stream = engine.stream(*s.ids)
    got: list[AnomalyResult] = []
    for a, b in itertools.pairwise([0, *cuts, 3000]):
        got.extend(stream.update(s.slice(a, b)))
    assert got == expected
    assert stream.points_seen == 3000
    assert any(r.is_anomalous for r in got)


def test_stream_push_one_point_at_a_time() -> None:
    """push() point by point equals detect, and the stream's buffers stay bounded."""
    vals = noise(1500, 17)
    vals[1200] = 90.0
    s = make(vals)
    engine = ContextualEngine(classify=False)
    stream = engine.stream(*s.ids)
    got: list[AnomalyResult] = []
    for t, v in zip(s.timestamps, s.values, strict=True):
        got.extend(stream.push(t, v))
    assert got == engine.detect(s)
    assert len(stream._vals) <= 2 * 32 + 2


def test_stream_rejects_foreign_or_stale_chunks() -> None:
    """A chunk with other ids, or not later than the last point, is refused with a clear message."""
    s = make(noise(10, 18))
    stream = ContextualEngine().stream(*s.ids)
    stream.update(s.slice(0, 5))
    with pytest.raises(ValueError, match=r"timestamps\[0\] must be later"):
        stream.update(s.slice(3, 8))
    other = MetricSeries("acme", "c-1", "n-8", "cpu", [T0 + timedelta(hours=1)], [1.0])
    with pytest.raises(ValueError, match="differ from the stream's"):
        stream.update(other)
    with pytest.raises(TypeError, match="chunk"):
        stream.update([1.0])  # type: ignore[arg-type]


# -- explanation ---------------------------------------------------------------------


def test_anomalous_results_carry_a_label_and_an_explanation() -> None:
    """An anomalous window gets a non-NORMAL label and one sentence; explain returns it."""
    vals = noise(600, 19)
    vals[450] = 95.0
    s = make(vals)
    engine = ContextualEngine()
    results = engine.detect(s)
    hit = results[450]
    assert hit.is_anomalous and hit.anomaly_label is not AnomalyType.NORMAL
    assert isinstance(hit.explanation, str) and hit.explanation
    assert engine.explain(s, hit) == hit.explanation
    assert results[100].explanation is None


def test_explain_without_a_stored_explanation_asks_the_classifier() -> None:
    """explain() on a result without an explanation delegates to the ExplanationClassifier."""
    vals = noise(600, 20)
    vals[450] = 95.0
    s = make(vals)
    engine = ContextualEngine(classify=False)
    hit = engine.detect(s)[450]
    assert hit.is_anomalous and hit.explanation is None
    sentence = engine.explain(s, hit)
    assert isinstance(sentence, str) and sentence


# -- validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"window_size_points": 0}, ValueError, "window_size_points"),
        ({"stride_points": 1.5}, TypeError, "stride_points"),
        ({"warmup_points": 1}, ValueError, "warmup_points"),
        ({"warmup_points": "250"}, TypeError, "warmup_points"),
        ({"levels": 0}, ValueError, "levels"),
        ({"levels": 10**7}, ValueError, "levels"),
        ({"levels": True}, TypeError, "levels"),
        ({"rest_points": -1}, ValueError, "rest_points"),
        ({"rest_points": 2.0}, TypeError, "rest_points"),
        ({"evidence_threshold": 0.0}, ValueError, "evidence_threshold"),
        ({"evidence_threshold": 1.5}, ValueError, "evidence_threshold"),
        ({"evidence_threshold": "high"}, TypeError, "evidence_threshold"),
        ({"classify": 1}, TypeError, "classify"),
    ],
)
def test_bad_settings_are_rejected_with_the_argument_named(
    kwargs: dict[str, object], error: type[Exception], words: str
) -> None:
    """Every setting is validated; the message names the engine, the argument and the value."""
    with pytest.raises(error, match=words) as info:
        ContextualEngine(**kwargs)  # type: ignore[arg-type]
    assert "ContextualEngine" in str(info.value)
    assert repr(next(iter(kwargs.values()))) in str(info.value)


def test_unknown_setting_is_a_type_error() -> None:
    """An unknown keyword is refused, not ignored."""
    with pytest.raises(TypeError, match="scales"):
        ContextualEngine(scales=(1, 2))  # type: ignore[call-arg]


def test_scorer_rejects_bad_values_naming_the_index() -> None:
    """Non-finite or non-numeric values raise, naming their index, in the warm-up and after it."""
    with pytest.raises(ValueError, match=r"values\[2\]: expected a finite real number, got nan"):
        ContextualScorer().update_many([1.0, 2.0, float("nan")])
    scorer = ContextualScorer(warmup_points=2)
    scorer.update_many([1.0, 2.0])
    with pytest.raises(TypeError, match=r"values\[1\]: expected a finite real number, got '3'"):
        scorer.update_many([1.0, "3"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"values\[0\]"):
        scorer.update(10**400)


def test_detect_rejects_a_non_series() -> None:
    """detect() of something that is not a MetricSeries is a TypeError naming the argument."""
    with pytest.raises(TypeError, match="time_series"):
        ContextualEngine().detect([1.0, 2.0])  # type: ignore[arg-type]


def test_repr_shows_the_settings() -> None:
    """repr() shows every setting, so a logged engine can be rebuilt."""
    text = repr(ContextualEngine(levels=12, rest_points=100))
    assert "levels=12" in text and "rest_points=100" in text and "warmup_points=250" in text
    assert (
        repr(ContextualScorer(levels=8)) == "ContextualScorer(warmup_points=250, levels=8, rest_points=150)"
    )
