"""Unit tests of the built-in novelty engine and its streaming core."""

from __future__ import annotations

import itertools
import math
import random
from datetime import datetime, timedelta, timezone

import pytest

from backend.analytics import AnomalyType, MetricSeries
from backend.analytics.engines.novelty import NoveltyEngine, NoveltyScorer
from backend.analytics.scoring import ScoreStream, raw_to_unit
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


# -- contract ------------------------------------------------------------------------


def test_conformance_kit_passes() -> None:
    """Every contract check of backend.analytics.testing passes with the defaults."""
    check_engine(NoveltyEngine)


def test_conformance_kit_passes_with_windows_and_without_classifier() -> None:
    """The contract also holds for wider, strided windows and the classifier switched off."""
    check_engine(NoveltyEngine, config={"window_size_points": 5, "stride_points": 3, "classify": False})


def test_engine_declares_name_and_causality() -> None:
    """The engine is registered as 'novelty' and is causal."""
    assert NoveltyEngine.name == "novelty"
    assert NoveltyEngine.causal is True


def test_one_result_per_point_by_default() -> None:
    """With the default window of 1 point and stride 1, every point gets a result, in order."""
    s = make(noise(300, 1))
    results = NoveltyEngine().detect(s)
    assert len(results) == 300
    assert [r.window_start for r in results] == list(s.timestamps)
    assert all(r.window_start == r.window_end for r in results)


def test_empty_and_short_series_give_no_results() -> None:
    """An empty series, or one shorter than the window, gives []."""
    assert NoveltyEngine().detect(make([])) == []
    assert NoveltyEngine(window_size_points=5).detect(make([1.0, 2.0, 3.0, 4.0])) == []


# -- behaviour -----------------------------------------------------------------------


def test_warmup_points_score_zero() -> None:
    """The first warmup_points points score 0, whatever they hold."""
    vals = noise(400, 2)
    vals[10] = 1e6
    vals[120] = -1e6
    scores = NoveltyScorer(warmup_points=150).update_many(vals)
    assert scores[:150] == [0.0] * 150


def test_constant_series_scores_zero() -> None:
    """A constant series never opens a new level: every score is 0 and every window NORMAL."""
    results = NoveltyEngine().detect(make([42.5] * 500))
    assert {r.anomaly_score for r in results} == {0.0}
    assert {r.anomaly_label for r in results} == {AnomalyType.NORMAL}


def test_spike_after_warmup_is_detected_once() -> None:
    """A spike far above the learnt range raises one alarm on the spike itself."""
    vals = noise(600, 3)
    vals[400] = 80.0
    results = NoveltyEngine().detect(make(vals))
    alarms = [i for i, r in enumerate(results) if r.is_anomalous]
    assert alarms == [400]
    assert results[400].anomaly_score > 0.4
    assert results[400].magnitude is not None and results[400].magnitude > 0.0


def _two_clusters(seed: int, n: int = 300) -> list[float]:
    """Warm-up spanning 0..12 (grid: bins of width 1 centred on 6), then levels 0-4 and 8-12 only."""
    rng = random.Random(seed)
    return [0.0, 12.0] * 37 + [0.0] + [float(rng.choice([0, 1, 2, 3, 4, 8, 9, 10, 11, 12])) for _ in range(n)]


def test_gap_fill_next_to_a_visited_level_is_not_novel() -> None:
    """Inside the visited range, a level next to a visited one scores 0; one 2 bins from any scores."""
    scorer = NoveltyScorer(scales=(1,))
    scorer.update_many(_two_clusters(1))
    assert scorer.update(5.0) == 0.0  # next to 4: a gap fill
    assert scorer.update(6.0) == 0.0  # next to 5, visited now
    fresh = NoveltyScorer(scales=(1,))
    fresh.update_many(_two_clusters(1))
    assert fresh.update(6.0) > 0.5  # 2 bins from 4 and from 8: novel
    assert fresh.last_distance == 2


def test_gap_fills_count_toward_the_novelty_rate() -> None:
    """A series that keeps filling gaps is less surprised by its next record than one that does not."""
    history = _two_clusters(2)
    filled = [*history, 5.0, 6.0, 7.0]  # three gap fills
    plain = [*history, 4.0, 4.0, 4.0]  # the same number of points at visited levels
    a, b = NoveltyScorer(scales=(1,)), NoveltyScorer(scales=(1,))
    a.update_many(filled)
    b.update_many(plain)
    assert a.update(14.0) < b.update(14.0)


def test_record_one_bin_beyond_the_range_is_novel() -> None:
    """Beyond the visited range a new level counts however close: records are never gap fills."""
    scorer = NoveltyScorer(scales=(1,))
    scorer.update_many(_two_clusters(3))
    assert scorer.update(13.0) > 0.0
    assert scorer.last_distance == 1


def test_level_shift_raises_one_alarm_not_many() -> None:
    """A lasting level shift alarms at its onset; the rest period keeps it from alarming again and again."""
    vals = noise(500, 4) + noise(200, 5, mu=70.0)
    engine = NoveltyEngine()
    alarms = [i for i, r in enumerate(engine.detect(make(vals))) if r.is_anomalous]
    assert alarms and alarms[0] == 500
    assert len(alarms) <= 3


def test_repeated_level_is_not_novel() -> None:
    """A level visited before is not novel: the second identical spike scores 0."""
    vals = noise(800, 6)
    vals[300] = 90.0
    vals[700] = 90.0
    scores = NoveltyScorer().update_many(vals)
    assert scores[300] > 0.4
    assert scores[700] == 0.0


def test_noisier_series_scores_new_levels_lower() -> None:
    """Rate normalisation: the same distance scores lower in a series that keeps finding new levels."""
    quiet = NoveltyScorer()
    quiet.update_many(noise(2000, 7))
    busy = NoveltyScorer()
    rng = random.Random(8)
    walk = [50.0]
    for _ in range(1999):
        walk.append(walk[-1] + rng.gauss(0.0, 1.0))
    busy.update_many(walk)
    assert busy._events > 3 * quiet._events
    assert 0.0 < busy.update(1e9) < quiet.update(1e9)


def test_escalation_passes_the_rest_period() -> None:
    """Within the rest period a higher score is still reported; an equal or lower one is not."""
    vals = noise(400, 9)
    vals[300] = 60.0
    vals[310] = 200.0
    vals[320] = 55.0
    scores = NoveltyScorer().update_many(vals)
    assert scores[300] > 0.0
    assert scores[310] > scores[300]
    assert scores[320] == 0.0


def test_window_score_is_max_of_point_scores() -> None:
    """A wider window scores the largest point score inside it."""
    vals = noise(400, 10)
    vals[333] = 99.0
    points = NoveltyScorer().update_many(vals)
    results = NoveltyEngine(window_size_points=10, stride_points=4).detect(make(vals))
    for k, r in enumerate(results):
        start = 4 * k
        assert r.anomaly_score == raw_to_unit(max(points[start : start + 10]), 0.37)
    assert len(results) == (400 - 10) // 4 + 1


def test_label_is_normal_exactly_below_threshold() -> None:
    """NORMAL exactly when the score is below 0.5; evidence_threshold is the raw score landing there."""
    vals = noise(600, 11)
    for i in (300, 420, 530):
        vals[i] = 50.0 + (i - 250) / 5.0
    raw = NoveltyScorer().update_many(vals)
    engine = NoveltyEngine(evidence_threshold=0.3, classify=False)
    results = engine.detect(make(vals))
    for r, evidence in zip(results, raw, strict=True):
        assert (r.anomaly_label is AnomalyType.NORMAL) == (r.anomaly_score < 0.5) == (evidence < 0.3)
    assert engine.score_threshold == 0.5
    assert any(r.is_anomalous for r in results)


def test_scores_are_finite_at_extreme_scales() -> None:
    """Flat then a jump, at 1e-300 and 1e308 and across them, gives finite scores in [0, 1)."""
    jumps = [
        [1e-300] * 300 + [1e308] * 10,
        [0.0] * 300 + [1e-300] * 10,
        [-1e308] * 200 + [1e308] * 200,
        [v * 1e-300 for v in noise(300, 12)] + [1e-290],
        [v * 1e306 for v in noise(300, 13)] + [-1e308],
    ]
    for vals in jumps:
        scores = NoveltyScorer().update_many(vals)
        assert all(math.isfinite(s) and 0.0 <= s < 1.0 for s in scores)
        assert max(scores[150:]) > 0.4


def test_flat_then_jump_is_anomalous() -> None:
    """A series flat during the warm-up that then jumps is flagged at the jump."""
    results = NoveltyEngine().detect(make([7.0] * 300 + [7.5] * 20))
    assert results[300].is_anomalous
    assert not any(r.is_anomalous for r in results[:300])


# -- streaming -----------------------------------------------------------------------


def test_update_equals_update_many() -> None:
    """Feeding values one by one gives the same scores as one batch."""
    vals = noise(700, 14)
    vals[500] = 70.0
    one = NoveltyScorer()
    assert [one.update(v) for v in vals] == NoveltyScorer().update_many(vals)
    assert one.points_seen == 700 and one.warmed_up


def test_stream_chunks_equal_detect() -> None:
    """A stream fed in uneven chunks returns exactly the results of detect on the whole series."""
    vals = noise(6000, 15)
    vals[900] = 95.0
    vals[2300:] = [v + 20.0 for v in vals[2300:]]
    s = make(vals)
    engine = NoveltyEngine(window_size_points=3, stride_points=2)
    stream = engine.stream(*s.ids)
    got = []
    cuts = [0, 1, 7, 150, 151, 700, 1201, 2500, 2999, 4700, 6000]
    for a, b in itertools.pairwise(cuts):
        got.extend(stream.update(s.slice(a, b)))
    assert got == engine.detect(s)
    assert stream.points_seen == 6000
    # Old points are trimmed: at most twice the history the labels need stays buffered.
    assert len(stream._vals) <= 2 * (engine.context_points + 32) + 1300


def test_stream_push_one_point() -> None:
    """push() takes one point and returns the results it completes."""
    stream = NoveltyEngine().stream("acme", "c-1", "n-7", "cpu")
    out = stream.push(T0, 1.0)
    assert len(out) == 1 and out[0].anomaly_score == 0.0


def test_stream_rejects_other_ids_and_old_timestamps() -> None:
    """A chunk of another series, or one not later than the last point, is a ValueError."""
    s = make(noise(20, 16))
    stream = NoveltyEngine().stream(*s.ids)
    stream.update(s.slice(0, 10))
    with pytest.raises(ValueError, match="chunk ids"):
        stream.update(MetricSeries("other", "c-1", "n-7", "cpu", [T0 + timedelta(days=1)], [1.0]))
    with pytest.raises(ValueError, match=r"timestamps\[0\]"):
        stream.update(s.slice(5, 12))
    with pytest.raises(TypeError, match="chunk"):
        stream.update([1.0])  # type: ignore[arg-type]


def test_stream_is_a_score_stream() -> None:
    """engine.stream returns the shared ScoreStream."""
    assert isinstance(NoveltyEngine().stream("a", "b", "c", "d"), ScoreStream)


# -- explanation ---------------------------------------------------------------------


def test_explain_gives_a_sentence() -> None:
    """explain returns the stored sentence of an anomalous result and a sentence for a normal one."""
    vals = noise(500, 17)
    vals[400] = 90.0
    s = make(vals)
    engine = NoveltyEngine()
    results = engine.detect(s)
    hit = results[400]
    assert hit.is_anomalous and hit.explanation
    assert engine.explain(s, hit) == hit.explanation
    text = engine.explain(s, results[200])
    assert isinstance(text, str) and text


def test_unclassified_labels_are_spike_or_trend() -> None:
    """Without the classifier, a spike is labelled SPIKE and a lasting shift TREND."""
    vals = noise(500, 18)
    vals[300] = 90.0
    engine = NoveltyEngine(classify=False, window_size_points=5, stride_points=5)
    res = engine.detect(make(vals))
    assert res[60].anomaly_label is AnomalyType.SPIKE
    shifted = noise(300, 19) + [80.0 + v - 50.0 for v in noise(50, 20)]
    res = engine.detect(make(shifted))
    assert res[60].anomaly_label is AnomalyType.TREND


# -- validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "error", "words"),
    [
        ({"window_size_points": 0}, ValueError, "window_size_points"),
        ({"stride_points": -1}, ValueError, "stride_points"),
        ({"window_size_points": "10"}, TypeError, "window_size_points"),
        ({"warmup_points": 1}, ValueError, "warmup_points"),
        ({"warmup_points": 50}, ValueError, "largest scale (64)"),
        ({"levels": 0}, ValueError, "levels"),
        ({"levels": 2.5}, TypeError, "levels"),
        ({"scales": ()}, ValueError, "scales"),
        ({"scales": "1"}, TypeError, "scales"),
        ({"scales": (1, 4, 4)}, ValueError, "scales[2]"),
        ({"scales": (1, 0)}, ValueError, "scales[1]"),
        ({"scales": (1, True)}, TypeError, "scales[1]"),
        ({"rest_points": -1}, ValueError, "rest_points"),
        ({"rest_points": 1.0}, TypeError, "rest_points"),
        ({"evidence_threshold": 0.0}, ValueError, "evidence_threshold"),
        ({"evidence_threshold": 1.5}, ValueError, "evidence_threshold"),
        ({"evidence_threshold": float("nan")}, ValueError, "evidence_threshold"),
        ({"evidence_threshold": "0.4"}, TypeError, "evidence_threshold"),
        ({"classify": 1}, TypeError, "classify"),
    ],
)
def test_bad_settings_are_rejected_with_the_argument_named(
    config: dict[str, object], error: type[Exception], words: str
) -> None:
    """Every bad setting raises ValueError/TypeError naming the argument."""
    with pytest.raises(error) as info:
        NoveltyEngine(**config)  # type: ignore[arg-type]
    assert words in str(info.value)
    assert "NoveltyEngine" in str(info.value)


def test_scorer_rejects_bad_values_naming_the_index() -> None:
    """A non-finite or non-numeric value is rejected with its index, before or after the warm-up."""
    scorer = NoveltyScorer()
    with pytest.raises(ValueError, match=r"values\[2\]: expected a finite real number, got nan"):
        scorer.update_many([1.0, 2.0, float("nan")])
    warm = NoveltyScorer()
    warm.update_many(noise(200, 21))
    with pytest.raises(ValueError, match=r"values\[1\]: expected a finite real number, got inf"):
        warm.update_many([1.0, float("inf")])
    with pytest.raises(TypeError, match=r"values\[0\]"):
        warm.update("1.0")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"values\[0\]"):
        warm.update(True)
    with pytest.raises(ValueError, match=r"values\[0\]"):
        warm.update(10**400)


def test_scorer_accepts_ints() -> None:
    """Plain ints are finite real numbers and score like the equal floats."""
    vals = [int(v) for v in noise(300, 22)]
    assert NoveltyScorer().update_many(vals) == NoveltyScorer().update_many([float(v) for v in vals])


def test_detect_rejects_non_series() -> None:
    """detect on anything but a MetricSeries is a TypeError naming the argument."""
    with pytest.raises(TypeError, match="time_series"):
        NoveltyEngine().detect([1.0, 2.0])  # type: ignore[arg-type]


def test_repr_shows_settings() -> None:
    """repr names every setting."""
    text = repr(NoveltyEngine(rest_points=7))
    assert "rest_points=7" in text and "scales=(1, 4, 16, 64)" in text
    assert "warmup_points=150" in repr(NoveltyScorer())


def test_a_quiet_start_pickled_before_the_day_rule_resumes() -> None:
    """A checkpoint's quiet start from before 0.2.0 also held its point count (``_n``): it resumes, without
    it, with the scores of one never pickled; a current one round-trips through pickle."""
    import pickle

    from backend.analytics.engines._grid import QuietStart

    vals = noise(400, 3)
    us = [int(T0.timestamp() * 1_000_000) + 3_600_000_000 * i for i in range(len(vals))]  # hourly
    live = NoveltyEngine().scorer()
    assert isinstance(live, QuietStart)
    live.update_many(vals[:100], us[:100])
    copy, other = pickle.loads(pickle.dumps(live)), pickle.loads(pickle.dumps(live))
    old = QuietStart.__new__(QuietStart)
    old.__setstate__((None, {**{n: getattr(other, n) for n in QuietStart.__slots__}, "_n": 100}))
    assert not hasattr(old, "_n")
    rest = live.update_many(vals[100:], us[100:])
    assert copy.update_many(vals[100:], us[100:]) == rest
    assert old.update_many(vals[100:], us[100:]) == rest
