"""Unit tests of backend.analytics.scoring (PointScorer, PointScoringEngine, ScoreStream), locate_window."""

from __future__ import annotations

import itertools
import math
import pickle
import random
import re
import warnings
from datetime import datetime, timedelta, timezone
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.analytics import AnomalyResult, AnomalyType, MetricSeries
from backend.analytics._labels import fallback_label, window_magnitude
from backend.analytics._validate import MAX_POINTS
from backend.analytics.engines import ZScoreEngine
from backend.analytics.errors import UnscoredPointsWarning
from backend.analytics.scoring import (
    PointScorer,
    PointScoringEngine,
    RescaledScorer,
    ScoreStream,
    raw_to_unit,
    z_score_to_unit,
)
from backend.analytics.testing import check_engine
from backend.analytics.windows import locate_window

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)


class DeviationScorer(PointScorer):
    """Relative distance from the running mean of the earlier points, 0.5 at ``limit``."""

    warmup_points = 1

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.mean = 0.0
        self.n = 0

    def update(self, x: float, t: int) -> float:
        if self.n == 0:
            self.mean = x
        # Relative distance, halved first so that +-1e308 cannot overflow.
        d = abs(x * 0.5 - self.mean * 0.5) / max(abs(x), abs(self.mean), 1e-300)
        self.n += 1
        self.mean += (x * 0.5 - self.mean * 0.5) * (2.0 / self.n)
        return z_score_to_unit(d, self.limit)


class Deviation(PointScoringEngine):
    """The engine of DeviationScorer: one class, one method."""

    name: ClassVar[str] = "deviation"
    causal: ClassVar[bool] = True

    def __init__(
        self,
        *,
        limit: float = 0.2,
        window_size_points: int = 1,
        stride_points: int = 1,
        classify: bool = True,
    ) -> None:
        self.limit = limit
        super().__init__(
            window_size_points=window_size_points, stride_points=stride_points, classify=classify
        )

    def scorer(self) -> DeviationScorer:
        return DeviationScorer(self.limit)


def make(values: list[float]) -> MetricSeries:
    return MetricSeries(
        "acme", "c", "n", "m", [T0 + timedelta(minutes=i) for i in range(len(values))], values
    )


def test_windows_take_the_max_point_score() -> None:
    """A window's score is the max of its points' scores; NORMAL exactly below 0.5."""
    s = make([1.0] * 20 + [5.0] + [1.0] * 19)
    results = Deviation(window_size_points=5, stride_points=5).detect(s)
    assert len(results) == 8
    flagged = [r for r in results if r.is_anomalous]
    assert [r.window_start for r in flagged] == [T0 + timedelta(minutes=20)]
    assert flagged[0].anomaly_label is AnomalyType.SPIKE and flagged[0].explanation
    assert flagged[0].magnitude is not None and flagged[0].magnitude > 0.5
    assert all((r.anomaly_label is AnomalyType.NORMAL) == (r.anomaly_score < 0.5) for r in results)
    assert all(r.magnitude is None for r in results if not r.is_anomalous)


def test_conformance_kit_passes() -> None:
    """A scorer plus a one-method engine class passes every check of the kit."""
    outcomes = check_engine(Deviation, config={"window_size_points": 4, "stride_points": 2})
    assert {o.status for o in outcomes} == {"passed"}


def test_stream_equals_detect_and_pickles() -> None:
    """The stream fed in chunks equals detect; a pickled stream resumes where it stopped."""
    vals = [1.0 + (i % 5) * 0.01 for i in range(300)]
    vals[250] = 9.0
    s = make(vals)
    engine = Deviation(window_size_points=4, stride_points=3)
    stream = engine.stream(*s.ids)
    got = stream.update(s.slice(0, 100))
    resumed = pickle.loads(pickle.dumps(stream))
    assert isinstance(resumed, ScoreStream)
    got += resumed.update(s.slice(100, 300))
    assert got == engine.detect(s)
    assert resumed.points_seen == 300


def test_broken_scorer_is_reported_not_clipped() -> None:
    """A scorer returning a score outside [0, 1] raises RuntimeError naming the engine; none is clipped."""

    class Broken(Deviation):
        name: ClassVar[str] = "broken"

        def scorer(self) -> DeviationScorer:
            scorer = DeviationScorer(self.limit)
            scorer.update = lambda x, t: 1.5  # type: ignore[method-assign]
            return scorer

    with pytest.raises(RuntimeError, match=r"'broken'.*1\.5.*outside \[0, 1\]"):
        Broken().detect(make([1.0] * 10))


def test_scorer_must_be_a_point_scorer() -> None:
    """An engine whose scorer() returns something else fails at construction, naming it."""

    class NotAScorer(Deviation):
        def scorer(self) -> DeviationScorer:
            return object()  # type: ignore[return-value]

    with pytest.raises(TypeError, match="scorer"):
        NotAScorer()


def test_bad_configuration_names_argument() -> None:
    """The base validates window_size_points, stride_points and classify."""
    with pytest.raises(ValueError, match="window_size_points"):
        Deviation(window_size_points=0)
    with pytest.raises(TypeError, match="stride_points"):
        Deviation(stride_points=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="classify"):
        Deviation(classify="yes")  # type: ignore[arg-type]


def test_a_stride_longer_than_the_window_warns_that_points_go_unscored() -> None:
    """stride > window leaves points in no window: the engine says so when built, and it is true."""
    with pytest.warns(UnscoredPointsWarning, match=r"stride_points=50 > window_size_points=5: the 45 points"):
        engine = ZScoreEngine(window_size_points=5, stride_points=50)
    values = [10.0 + (i % 7) * 0.1 for i in range(800)]
    values[707] = 500.0  # at offset 7 of window 14's stride: after its 5 points
    stamps = [T0 + timedelta(minutes=i) for i in range(800)]
    found = engine.detect(MetricSeries("t", "c", "n", "m", stamps, values))
    assert not any(r.is_anomalous for r in found)
    assert any(r.is_anomalous for r in ZScoreEngine(window_size_points=5, stride_points=5).detect(
        MetricSeries("t", "c", "n", "m", stamps, values)
    ))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ZScoreEngine(window_size_points=5, stride_points=5)


def test_repr_shows_every_setting() -> None:
    """The generic repr lists the engine's own settings and the shared ones."""
    assert repr(Deviation(limit=0.3)) == (
        "Deviation(limit=0.3, window_size_points=1, stride_points=1, classify=True)"
    )


def test_non_causal_engine_has_no_stream() -> None:
    """stream() of a non-causal engine is refused with the engine's name."""

    class Whole(Deviation):
        name: ClassVar[str] = "whole"
        causal: ClassVar[bool] = False

    with pytest.raises(TypeError, match="'whole' is not causal"):
        Whole().stream("t", "c", "n", "m")


def test_raw_to_unit_is_monotone_and_lands_on_the_alarm_line() -> None:
    """raw_to_unit maps the raw threshold to 0.5, 0 to 0 and 1 to 1, strictly increasing."""
    for thr in (0.01, 0.2268, 0.37, 0.9, 1.0):
        assert raw_to_unit(thr, thr) == 0.5
        assert raw_to_unit(0.0, thr) == 0.0
        grid = [i / 100 for i in range(101)]
        mapped = [raw_to_unit(r, thr) for r in grid]
        assert all(a < b for a, b in itertools.pairwise(mapped) if a < 1.0)
    assert raw_to_unit(1.0, 0.37) == 1.0
    assert raw_to_unit(0.5, 1.0) == 0.25


def test_rescaled_scorer_keeps_the_ranking() -> None:
    """RescaledScorer gives raw_to_unit of the inner scores, and the inner warm-up."""
    inner = DeviationScorer(0.2)
    raw = DeviationScorer(0.2).update_many([1.0, 1.1, 3.0, 1.0], [0, 1, 2, 3])
    scaled = RescaledScorer(inner, 0.3)
    assert scaled.warmup_points == 1
    assert scaled.update_many([1.0, 1.1, 3.0, 1.0], [0, 1, 2, 3]) == [raw_to_unit(r, 0.3) for r in raw]


class _Given(PointScorer):
    """An inner scorer that returns the raw scores it was built with (for RescaledScorer)."""

    def __init__(self, raws: list[float]) -> None:
        self.raws = raws

    def update(self, x: float, t: int) -> float:
        return self.raws[t]


@given(st.lists(st.floats(0.0, 1.0), max_size=30), st.floats(0.0, 1.0))
def test_rescaled_scores_are_raw_to_unit_to_the_last_bit(raws: list[float], thr: float) -> None:
    """RescaledScorer's inlined loop gives exactly raw_to_unit of each raw score, at any threshold."""
    got = RescaledScorer(_Given(raws), thr).update_many([0.0] * len(raws), list(range(len(raws))))
    assert [s.hex() for s in got] == [raw_to_unit(r, thr).hex() for r in raws]


def test_z_score_to_unit() -> None:
    """z / (z + threshold): 0.5 at the threshold, 0 at 0, 1 for inf."""
    assert z_score_to_unit(4.0, 4.0) == 0.5
    assert z_score_to_unit(0.0, 4.0) == 0.0
    assert z_score_to_unit(float("inf"), 4.0) == 1.0


def test_fallback_label_rule() -> None:
    """TREND when the window's last two points are each at least half as far from the prior level as its
    peak (on its side), else SPIKE: one point out at the window's end is a spike so far."""
    before = [10.0] * 10
    assert fallback_label([10.0, 30.0, 10.0, 10.0], before) is AnomalyType.SPIKE
    assert fallback_label([10.0, 30.0, 30.0, 30.0], before) is AnomalyType.TREND
    assert fallback_label([10.0, 12.0, 14.0, 16.0], before) is AnomalyType.TREND
    assert fallback_label([10.0, 30.0, 14.0], before) is AnomalyType.SPIKE
    assert fallback_label([10.0, 10.0, 10.0, 30.0], before) is AnomalyType.SPIKE
    assert fallback_label([10.0, 10.0, 30.0, 30.0], before) is AnomalyType.TREND
    assert fallback_label([10.0, 10.0, 30.0, 19.0], before) is AnomalyType.SPIKE
    assert fallback_label([10.0, 10.0, -5.0, 30.0], before) is AnomalyType.SPIKE
    assert fallback_label([1e308, -1e308], [-1e308] * 3) is AnomalyType.SPIKE
    assert fallback_label([5.0], []) is AnomalyType.SPIKE


def test_window_magnitude() -> None:
    """d / (d + s): 0.5 when the window moved by the prior level; finite at the float limit."""
    assert window_magnitude([20.0], [10.0] * 5) == 0.5
    assert window_magnitude([10.0], [10.0] * 5) == 0.0
    assert window_magnitude([1.0], [0.0] * 5) == 1.0
    assert 0.0 < window_magnitude([1e308], [-1e308] * 5) <= 1.0


def test_locate_window() -> None:
    """locate_window turns window_start/window_end back into indices, by bisection."""
    s = make([float(i) for i in range(10)])
    w = locate_window(s, T0 + timedelta(minutes=3), T0 + timedelta(minutes=5))
    assert (w.start_index, w.end_index) == (3, 6)
    with pytest.raises(ValueError, match="no point"):
        locate_window(s, T0 + timedelta(hours=1), T0 + timedelta(hours=2))


@pytest.mark.parametrize(
    ("engine", "config", "field"),
    [
        (name, {field: value}, field)
        for name in ("zscore", "novelty", "contextual", "combined")
        for field in ("window_size_points", "stride_points", "classifier_history_points")
        for value in (MAX_POINTS + 1, 10**18)
    ]
    + [
        ("novelty", {"warmup_points": 10**9, "scales": (10**9,)}, "warmup_points"),
        ("contextual", {"warmup_points": 10**18}, "warmup_points"),
        ("novelty", {"rest_points": 10**9}, "rest_points"),
        ("contextual", {"rest_points": MAX_POINTS + 1}, "rest_points"),
    ],
)
def test_settings_in_points_are_bounded(engine: str, config: dict[str, object], field: str) -> None:
    """Issue 14: a setting of 10**18 points (that a stream would buffer without end) is a ValueError."""
    from backend.analytics import EngineRegistry

    with pytest.raises(
        ValueError, match=rf"engine '{engine}' \(built-in\) could not be created: .*{field} must"
    ):
        EngineRegistry.default().create(engine, **config)


def test_settings_of_max_points_are_accepted() -> None:
    """The bound itself is a valid setting: the engine builds and scores a short series."""
    from backend.analytics import EngineRegistry
    from backend.analytics.testing import make_test_series

    engine = EngineRegistry.default().create(
        "novelty", window_size_points=MAX_POINTS, stride_points=MAX_POINTS, warmup_points=MAX_POINTS
    )
    assert engine.detect(make_test_series(50, seed=1)) == []


def _minute_series(n: int) -> MetricSeries:
    t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
    values = [50.0 + (i % 7) * 0.3 for i in range(n)]
    return MetricSeries("acme", "c-1", "n-1", "cpu", [t0 + timedelta(minutes=i) for i in range(n)], values)


def test_a_series_shorter_than_the_warm_up_warns_it_could_not_alarm() -> None:
    """detect() on a series inside the warm-up says so (InsufficientHistoryWarning), naming the series,
    its length and the engine's min_history_points; a series past the warm-up gives no warning."""
    import warnings

    from backend.analytics import EngineRegistry
    from backend.analytics.errors import InsufficientHistoryWarning

    for name in ("zscore", "novelty"):
        engine = EngineRegistry.default().create(name, window_size_points=5, stride_points=5)
        need = engine.min_history_points
        with pytest.warns(InsufficientHistoryWarning) as caught:
            results = engine.detect(_minute_series(need - 20))
        assert results and all(r.anomaly_score == 0.0 and not r.is_anomalous for r in results)
        message = str(caught[0].message)
        assert f"{need - 20} points" in message and str(need) in message and "acme/c-1/n-1/cpu" in message
        with warnings.catch_warnings():
            warnings.simplefilter("error", InsufficientHistoryWarning)
            engine.detect(_minute_series(need + 200))  # past the warm-up: silent


def _seconds_series(n: int, step: int, spikes: dict[int, float]) -> MetricSeries:
    """A slow daily sine (+-20) with noise, one point every ``step`` seconds, and ``spikes`` added."""
    rng = random.Random(step)
    t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
    values = [
        100.0 + 20.0 * math.sin(2.0 * math.pi * i * step / 86_400) + rng.gauss(0.0, 1.0) + spikes.get(i, 0.0)
        for i in range(n)
    ]
    return MetricSeries(
        "acme", "c-1", "n-1", "cpu", [t0 + timedelta(seconds=step * i) for i in range(n)], values
    )


@pytest.mark.parametrize("name", ["novelty", "contextual"])
def test_the_novelty_engines_are_quiet_for_a_day_at_any_step(name: str) -> None:
    """At 30-second steps a day is 2,880 points: a spike after 1,440 points (what a day is at 1-minute steps)
    but within the first day scores 0, and the same spike a day after the first point alarms. Before, the
    quiet start also ended at the 1,441st point, and a fine-step series' first day (whose every level of
    the cycle is new) alarmed for hours."""
    from backend.analytics import EngineRegistry

    engine = EngineRegistry.default().create(name, classify=False)
    assert engine.min_history_span == timedelta(days=1)
    day = 86_400 // 30
    early, late = day // 2 + 300, day + 300
    series = _seconds_series(day + 600, 30, {early: 200.0})
    scores = [r.anomaly_score for r in engine.detect(series)]
    assert all(v == 0.0 for v in scores[:day])  # the whole first day, past 1,440 points
    # (A novelty engine never forgets a level: the spike a day on is on a series without the early one.)
    series = _seconds_series(day + 600, 30, {late: 200.0})
    assert [r.anomaly_score >= 0.5 for r in engine.detect(series)][late]
    # combined's zscore channel may alarm on the first day: it declares no span.
    assert EngineRegistry.default().create("combined").min_history_span == timedelta(0)


def test_a_series_shorter_than_a_quiet_day_warns_though_it_has_enough_points() -> None:
    """A novelty engine's warm-up is a day of time as well as points: 3,000 points at 10-second steps
    (8.3 hours) score 0 throughout, and detect says why (min_history_span), naming the span."""
    import warnings

    from backend.analytics import EngineRegistry
    from backend.analytics.errors import InsufficientHistoryWarning

    engine = EngineRegistry.default().create("novelty", classify=False)
    series = _seconds_series(3_000, 10, {2_500: 200.0})
    assert len(series) > engine.min_history_points
    with pytest.warns(InsufficientHistoryWarning) as caught:
        results = engine.detect(series)
    assert all(r.anomaly_score == 0.0 for r in results)
    message = str(caught[0].message)
    assert "spans 8:19:50 (3000 points)" in message and "1 day, 0:00:00" in message
    assert "min_history_span" in message and "acme/c-1/n-1/cpu" in message
    with warnings.catch_warnings():
        warnings.simplefilter("error", InsufficientHistoryWarning)
        zscore = EngineRegistry.default().create("zscore", classify=False)
        assert any(r.is_anomalous for r in zscore.detect(series))  # no warm-up in time: it finds the spike


def stepped(seed: int, *, step_from: int, step_to: int, n: int = 500) -> MetricSeries:
    """A flat series at 100 (noise sd 1) with +50 on ``[step_from, step_to)``."""
    rng = random.Random(seed)
    return make([100.0 + rng.gauss(0.0, 1.0) + (50.0 if step_from <= i < step_to else 0.0) for i in range(n)])


def test_later_windows_of_an_episode_are_told_against_what_came_before_it() -> None:
    """Every window of a 100-point step (one episode) is explained against the level before the step.

    Before, a later window's sentence measured it against the points just before that window, which
    were the step's own: "rose to 150 and stayed there, 0.4 sd above its baseline of 150".
    """
    s = stepped(1, step_from=300, step_to=400)
    flagged = [
        r for r in Deviation(limit=0.1, window_size_points=10, stride_points=10).detect(s) if r.is_anomalous
    ]
    inside = [
        r for r in flagged if T0 + timedelta(minutes=300) <= r.window_start < T0 + timedelta(minutes=400)
    ]
    assert len(inside) >= 8
    assert all(r.anomaly_label is AnomalyType.TREND for r in inside[1:])
    for r in inside:
        assert r.explanation is not None and r.magnitude is not None
        found = re.search(
            r"rose to ([\d.]+) and stayed there, ([\d.]+) sd above its baseline of ([\d.]+)", r.explanation
        )
        assert found, r.explanation
        value, sd, baseline = (float(g) for g in found.groups())
        assert 145.0 < value < 155.0 and 97.0 < baseline < 103.0 and sd > 10.0, r.explanation
        assert r.magnitude > 0.3  # |150 - 100| / (|150 - 100| + 100): against the level before the step


def test_a_trend_sentence_tells_where_the_change_stands_not_the_recovery() -> None:
    """A TREND window whose last points have recovered is told by its latest point still shifted, and
    says it came back (not "and stayed there")."""
    s = stepped(2, step_from=300, step_to=405)
    results = Deviation(limit=0.1, window_size_points=10, stride_points=10).detect(s)
    straddle = next(r for r in results if r.window_start == T0 + timedelta(minutes=400))
    assert straddle.is_anomalous and straddle.anomaly_label is AnomalyType.TREND
    assert straddle.explanation is not None
    assert f"rose to {s.values[404]:.4g}, " in straddle.explanation, straddle.explanation
    assert "stayed there" not in straddle.explanation
    back = f"and was back at {s.values[409]:.4g} by its end."
    assert straddle.explanation.endswith(back), straddle.explanation


class HeldScorer(PointScorer):
    """0.9 at a point more than 10 from 100, then 0.6 for the next ``hold`` points: a held alarm."""

    warmup_points = 1

    def __init__(self, hold: int) -> None:
        self.hold = hold
        self.left = 0

    def update(self, x: float, t: int) -> float:
        if abs(x - 100.0) > 10.0:
            self.left = self.hold
            return 0.9
        if self.left:
            self.left -= 1
            return 0.6
        return 0.0


class Held(PointScoringEngine):
    """Windows of one point scored by :class:`HeldScorer` (an engine that holds its alarm)."""

    name: ClassVar[str] = "held"
    causal: ClassVar[bool] = True

    def __init__(self, *, hold: int = 10, classify: bool = True) -> None:
        self.hold = hold
        super().__init__(window_size_points=1, stride_points=1, classify=classify)

    def scorer(self) -> HeldScorer:
        return HeldScorer(self.hold)


@pytest.mark.parametrize("classify", [True, False])
def test_a_held_alarm_after_a_spike_keeps_the_episode_a_spike(classify: bool) -> None:
    """An engine that holds its alarm after a 3-point spike flags the points after it, back at the
    level they had: the episode has more anomalous points than a spike, but its values did not stay
    out, so every window of it is SPIKE (they were TREND, "flagged as part of a trend", from the fifth)."""
    s = stepped(4, step_from=300, step_to=303)
    flagged = [r for r in Held(classify=classify).detect(s) if r.is_anomalous]
    assert [r.window_start for r in flagged] == [T0 + timedelta(minutes=m) for m in range(300, 313)]
    assert {r.anomaly_label for r in flagged} == {AnomalyType.SPIKE}
    if classify:
        assert all("trend" not in (r.explanation or "") for r in flagged)


@pytest.mark.parametrize("classify", [True, False])
def test_a_held_alarm_on_a_level_that_stays_out_turns_the_episode_to_trend(classify: bool) -> None:
    """The same engine on a step that lasts: after more anomalous points than a spike's, the values are
    still out, so the episode is TREND from there on."""
    s = stepped(5, step_from=300, step_to=340)
    flagged = [r for r in Held(classify=classify).detect(s) if r.is_anomalous]
    inside = [r for r in flagged if r.window_start < T0 + timedelta(minutes=340)]
    assert len(inside) == 40
    assert {r.anomaly_label for r in inside[:4]} == {AnomalyType.SPIKE}
    assert {r.anomaly_label for r in inside[5:]} == {AnomalyType.TREND}


class ShortHistoryDeviation(Deviation):
    """Deviation with windows of 10, limit 0.1 and a classifier that reads 64 points of history."""

    def __init__(self, *, classifier_history_points: int = 64) -> None:
        self.limit = 0.1
        PointScoringEngine.__init__(
            self, window_size_points=10, stride_points=10, classifier_history_points=classifier_history_points
        )


def test_episode_sentences_are_the_same_from_a_trimmed_stream() -> None:
    """A stream that forgets old points (classifier history of 64) labels and explains a 300-point
    episode exactly as detect does: the episode's start is used only while both hold the points
    before it (its first 32 points here), then each window is told against the points before it."""
    s = stepped(3, step_from=200, step_to=500, n=700)
    engine = ShortHistoryDeviation()
    stream = engine.stream(*s.ids)
    got = []
    for lo in range(0, len(s), 37):
        got.extend(stream.update(s.slice(lo, lo + 37)))
    expected = engine.detect(s)
    assert got == expected
    step = T0 + timedelta(minutes=200)
    episode = [
        r for r in expected if r.is_anomalous and step <= r.window_start < step + timedelta(minutes=150)
    ]
    assert len(episode) >= 10 and episode[0].window_start == step
    baselines = [float(re.findall(r"baseline of ([\d.]+)", r.explanation or "")[0]) for r in episode]
    # Windows starting up to 32 points (half of 64) after the episode's: told against the level
    # before the step; later ones against the points before them (the step's own).
    assert all(b < 103.0 for b in baselines[:4]) and all(b > 140.0 for b in baselines[4:])


def test_a_classifier_history_shorter_than_the_episode_still_gives_a_baseline() -> None:
    """With the shortest classifier history (8 points), a later window of an episode, whose start
    the classifier no longer reads, is told against the points before the window, never "no
    baseline yet"."""
    s = stepped(3, step_from=200, step_to=500, n=700)
    flagged = [r for r in ShortHistoryDeviation(classifier_history_points=8).detect(s) if r.is_anomalous]
    assert len(flagged) >= 10
    assert all("no baseline" not in (r.explanation or "no baseline") for r in flagged)


def test_a_stream_state_from_before_episodes_kept_their_start_resumes() -> None:
    """A checkpoint whose running episode has no recorded start (the previous layout) resumes: its
    later windows keep the episode's label and are told against the points before each window."""
    s = stepped(1, step_from=300, step_to=400)
    engine = Deviation(limit=0.1, window_size_points=10, stride_points=10)
    stream = engine.stream(*s.ids)
    stream.update(s.slice(0, 350))
    state = stream.export_state()
    assert len(state["_episode"]) == 6
    state["_episode"] = state["_episode"][:3]
    del state["_held"]
    resumed = ScoreStream.from_state(engine, state)
    rest = resumed.update(s.slice(350, 500))
    whole = engine.detect(s)[35:]
    assert [(r.anomaly_label, r.anomaly_score) for r in rest] == [
        (r.anomaly_label, r.anomaly_score) for r in whole
    ]
    found = re.search(r"baseline of ([\d.]+)", rest[0].explanation or "")
    assert found and float(found.group(1)) > 140.0  # the step's own points: the start is unknown


def cycle_series(seed: int, kind: str, *, days: int = 7, step_minutes: int = 5) -> MetricSeries:
    """A daily sine (100 + 30 sin, noise sd 2) at 5-minute steps from a Monday; on day 5 ``kind``:
    ``"phase"`` shifts the day's cycle 6 hours late, ``"ramp"`` adds a rise to +40 from 07:12 to 12:00,
    ``"shift"`` adds +25 from 07:12 to 12:00 (then each is over); ``"ramp-dip"`` is the ramp, then -15
    for the last 30 minutes of the window it ends in; ``"damped"`` swings 9 instead of 30 that day."""
    rng = random.Random(seed)
    start = datetime(2024, 5, 6, tzinfo=timezone.utc)
    n = days * 1440 // step_minutes
    values = []
    for i in range(n):
        t = i * step_minutes / 1440.0  # days
        late = 0.25 if kind == "phase" and int(t) == 5 else 0.0
        swing = 9.0 if kind == "damped" and int(t) == 5 else 30.0
        v = 100.0 + swing * math.sin(2.0 * math.pi * (t - late)) + rng.gauss(0.0, 2.0)
        if 5.3 <= t < 5.5:
            v += 40.0 * (t - 5.3) / 0.2 if kind in ("ramp", "ramp-dip") else 25.0 if kind == "shift" else 0.0
        elif kind == "ramp-dip" and 5 * 288 + 144 <= i < 5 * 288 + 150:
            v -= 15.0  # (the rest of the window that the ramp ends in)
        values.append(v)
    stamps = [start + timedelta(minutes=step_minutes * i) for i in range(n)]
    return MetricSeries("acme", "c", "n", "m", stamps, values)


def day_five(results: list[AnomalyResult]) -> list[AnomalyResult]:
    day = datetime(2024, 5, 11, tzinfo=timezone.utc)
    return [r for r in results if r.is_anomalous and day <= r.window_start < day + timedelta(days=1)]


@pytest.mark.parametrize("seed", range(3))
def test_a_phase_shift_on_a_cycle_turns_seasonal_once_it_has_departed_both_ways(seed: int) -> None:
    """A day whose cycle runs 6 hours late departs above its expectation, crosses it (those windows are
    not anomalous), then departs below: one episode, then another. The first is TREND (a window cannot
    tell it from a level shift); once the series has been held off its cycle on both sides, within a
    quarter of a cycle, the shape changed, not the level: SEASONAL (it was TREND all day)."""
    flagged = day_five(ZScoreEngine().detect(cycle_series(seed, "phase")))
    labels = [r.anomaly_label for r in flagged]
    first = labels.index(AnomalyType.SEASONAL)
    assert first >= 5 and set(labels[:first]) == {AnomalyType.TREND}
    assert AnomalyType.TREND not in labels[first:]
    assert labels.count(AnomalyType.SEASONAL) >= 5
    # The two sides are two episodes: a window between them is not anomalous.
    assert flagged[first].window_start - flagged[first - 1].window_end > timedelta(minutes=5)
    assert "broke its usual daily cycle" in (flagged[first].explanation or "")
    # The sentence says how far the cycle moved, read over the departure since its first side.
    said = flagged[first].explanation or ""
    late = re.search(r"broke its usual daily cycle, running about ([\d.]+) hours late: ", said)
    assert late and 5.5 <= float(late.group(1)) <= 6.5, said
    # (A later window back on the cycle, still in the engine's alarm, says so.)
    told = re.compile(r"broke its usual daily cycle|flagged as part of a seasonal")
    seasonal = [r for r in flagged[first:] if r.anomaly_label is AnomalyType.SEASONAL]
    assert all(told.search(r.explanation or "") for r in seasonal)


@pytest.mark.parametrize("seed", range(3))
def test_a_damped_swing_turns_seasonal_without_a_shift_claimed(seed: int) -> None:
    """A day whose swing is damped to 30% departs above its cycle in the troughs and below it at the
    peaks: SEASONAL once both show, as a phase shift; but no shifted cycle explains it, so the sentence
    names no shift (a claim of "running 6 hours late" would send the person on call the wrong way)."""
    flagged = day_five(ZScoreEngine().detect(cycle_series(seed, "damped")))
    seasonal = [r for r in flagged if r.anomaly_label is AnomalyType.SEASONAL]
    assert len(seasonal) >= 5
    assert all("broke its usual daily cycle: " in (r.explanation or "") for r in seasonal[:5])
    assert not any("running about" in (r.explanation or "") for r in flagged)


@pytest.mark.parametrize("kind", ["ramp", "shift", "ramp-dip"])
def test_a_ramp_or_a_shift_on_a_cycle_that_ends_stays_trend(kind: str) -> None:
    """A rise or a step on the cycle that then ends departs one way only: TREND throughout. Also when
    the window the ramp ends in finishes below the cycle (it holds the ramp's top too: the end of one
    departure, not a departure of its own)."""
    for seed in range(3):
        flagged = day_five(ZScoreEngine().detect(cycle_series(seed, kind)))
        assert len(flagged) >= 3
        assert {r.anomaly_label for r in flagged} == {AnomalyType.TREND}, seed


def test_a_side_after_an_earlier_departure_is_told_against_the_history_before_it() -> None:
    """Right after a +25 step on the cycle ends, the values are back on the cycle, but against the
    points just before them (whose lag holds the step) they read as a fall, held below: TREND. With
    the step's side carried over, the window's side is told against the history before the step
    (none): it stays TREND. Told against its own history it would be both sides: SEASONAL."""
    from backend.analytics._labels import label_and_explain
    from backend.analytics.explain import ABOVE, BELOW, ExplanationClassifier

    s = cycle_series(0, "shift")  # the step: points 1527-1583
    clf = ExplanationClassifier()
    start, end = 1584, 1594
    assert clf._held(clf._judge_span(s, start, end).z) == BELOW  # (against the points just before it)
    result = AnomalyResult(*s.ids, s.timestamps[start], s.timestamps[end - 1], 0.9, AnomalyType.TREND)
    got, sides, held, carried = label_and_explain(
        clf, s, start, end, result, AnomalyType.TREND, None, None, None, False, ABOVE, 1, 1527
    )
    assert (got.anomaly_label, sides, held, carried) == (AnomalyType.TREND, ABOVE, 0, True)
    # Without the earlier departure's start, the carried side is not used at all.
    got, sides, held, carried = label_and_explain(
        clf, s, start, end, result, AnomalyType.TREND, None, None, None, False, ABOVE, 1, None
    )
    assert (got.anomaly_label, sides, held, carried) == (AnomalyType.TREND, BELOW, BELOW, False)
    # A departure more than a quarter of the cycle (72 points) ago is not carried either.
    _, sides, _, carried = label_and_explain(
        clf, s, start, end, result, AnomalyType.TREND, None, None, None, False, ABOVE, 73, 1527
    )
    assert (sides, carried) == (BELOW, False)


def test_a_stream_keeps_the_earlier_side_across_chunks_and_checkpoints() -> None:
    """A stream fed in chunks, and one rebuilt from its checkpoint between the two sides of a phase
    shift (so the earlier side is only in the checkpoint), label it as detect does."""
    s = cycle_series(1, "phase")
    engine = ZScoreEngine()
    expected = engine.detect(s)
    stream = engine.stream(*s.ids)
    got: list[AnomalyResult] = []
    # Inside the first not anomalous window after the first side (its episode is over, the second
    # side's has not begun: the first side is only in the stream's memory of the latest side held).
    k = next(k for k, r in enumerate(expected) if r.is_anomalous and not expected[k + 1].is_anomalous)
    cut = list(s.timestamps).index(expected[k + 1].window_start) + 5
    assert expected[k + 2].anomaly_label is AnomalyType.SEASONAL or expected[k + 3].is_anomalous
    for lo in range(0, cut, 97):
        got.extend(stream.update(s.slice(lo, min(lo + 97, cut))))
    assert stream.export_state()["_held"][0]  # the first side is held
    resumed = ScoreStream.from_state(engine, pickle.loads(pickle.dumps(stream.export_state())))
    got.extend(resumed.update(s.slice(cut, len(s))))
    assert got == expected
    assert AnomalyType.SEASONAL in {r.anomaly_label for r in day_five(got)}


def test_a_stream_state_from_before_episodes_kept_their_sides_resumes() -> None:
    """A checkpoint from before episodes kept the sides they held (a 4-item episode, no ``_held``)
    resumes as if none had been held."""
    s = cycle_series(1, "phase")
    engine = ZScoreEngine()
    stream = engine.stream(*s.ids)
    stream.update(s.slice(0, 5 * 288 + 30))  # inside the first side's episode
    state = stream.export_state()
    assert state["_episode"] is not None and len(state["_episode"]) == 6
    state["_episode"] = state["_episode"][:4]
    del state["_held"]
    resumed = ScoreStream.from_state(engine, state)
    rest = day_five(resumed.update(s.slice(5 * 288 + 30, len(s))))
    assert rest and AnomalyType.SEASONAL not in {r.anomaly_label for r in rest[:3]}


def test_push_names_its_arguments_in_errors() -> None:
    """A bad point given to ``push`` is refused with push's own names, and the stream is unchanged."""
    stream = ZScoreEngine().stream("acme", "c-1", "n-7", "cpu")
    with pytest.raises(ValueError, match=r"^ScoreStream\.push: value must be a finite real number, got nan"):
        stream.push(T0, float("nan"))
    with pytest.raises(TypeError, match=r"^ScoreStream\.push: value must be a finite real number, got 'x'"):
        stream.push(T0, "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^ScoreStream\.push: timestamp must be a timezone-aware datetime"):
        stream.push(datetime(2024, 5, 1), 1.0)
    assert stream.push(T0, 1.0) == []
    with pytest.raises(ValueError, match=r"^ScoreStream\.push: timestamp must be later than the last point"):
        stream.push(T0, 2.0)
    assert stream.push(T0 + timedelta(minutes=1), 2.0) == []
