"""Unit tests of the built-in combined engine (max of the novelty and contextual point scores)."""

from __future__ import annotations

import itertools
import math
import pickle
import random
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.analytics import EngineRegistry, MetricSeries
from backend.analytics.engines import CombinedEngine, CombinedScorer, ContextualScorer, NoveltyScorer
from backend.analytics.engines._shape import ShapeScorer
from backend.analytics.engines.combined import _WithZScore
from backend.analytics.evaluation import events_from_labels
from backend.analytics.scoring import PointScorer
from backend.analytics.testing import check_engine

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)


def noise(n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [50.0 + rng.gauss(0.0, 1.0) for _ in range(n)]


def make(values: list[float]) -> MetricSeries:
    return MetricSeries(
        "acme", "c-1", "n-7", "cpu", [T0 + timedelta(minutes=i) for i in range(len(values))], values
    )


def test_score_is_the_larger_of_the_two_scorers() -> None:
    """With the shape channel off, each point scores max(novelty, min(1, w * contextual))."""
    vals = noise(1500, 1)
    vals[900] = 90.0
    vals[1200:] = [v - 15.0 for v in vals[1200:]]
    a = NoveltyScorer().update_many(vals)
    b = ContextualScorer().update_many(vals)
    got = CombinedScorer(contextual_weight=1.3, shape_weight=0.0).update_many(vals)
    assert got == [max(x, min(1.0, 1.3 * y)) for x, y in zip(a, b, strict=True)]
    assert max(got[880:920]) > 0.5


def test_registered_and_finds_a_spike() -> None:
    """'combined' is a built-in; a clear spike is its top-scoring point, flagged, labelled and explained."""
    vals = noise(1200, 2)
    vals[1000] = 80.0
    results = EngineRegistry.default().create("combined").detect(make(vals))
    top = max(results, key=lambda r: r.anomaly_score)
    assert top.window_start == T0 + timedelta(minutes=1000) and top.is_anomalous
    assert top.explanation and "cpu" in top.explanation
    # Gaussian noise reaches new levels now and then; alarms stay rare (suppression after each).
    assert sum(r.is_anomalous for r in results) <= len(results) // 100


def test_conformance_kit_passes() -> None:
    """Every contract check passes with the defaults and with strided windows."""
    for config in ({}, {"window_size_points": 8, "stride_points": 3}):
        assert all(o.status == "passed" for o in check_engine(CombinedEngine, config=config))


def test_stream_chunks_equal_detect() -> None:
    """A stream fed in uneven chunks returns exactly detect()'s results."""
    vals = noise(2600, 3)
    vals[700] = 95.0
    vals[2000:] = [v + 20.0 for v in vals[2000:]]
    s = make(vals)
    engine = CombinedEngine(window_size_points=3, stride_points=2)
    stream = engine.stream(*s.ids)
    got = []
    for a, b in itertools.pairwise([0, 1, 7, 300, 301, 1200, 2599, 2600]):
        got.extend(stream.update(s.slice(a, b)))
    assert got == engine.detect(s)


def test_bad_values_change_no_state() -> None:
    """A bad value is rejected before either scorer sees the batch."""
    scorer = CombinedScorer()
    with pytest.raises(
        ValueError, match=r"CombinedScorer: values\[1\] must be a finite real number, got nan"
    ):
        scorer.update_many([1.0, float("nan")])
    with pytest.raises(TypeError, match=r"values\[0\] must be a finite real number"):
        scorer.update_many(["1"])  # type: ignore[list-item]
    fresh = CombinedScorer()
    vals = noise(400, 4)
    assert scorer.update_many(vals) == fresh.update_many(vals)


@pytest.mark.parametrize(
    ("kw", "exc", "text"),
    [
        ({"evidence_threshold": 0.0}, ValueError, r"evidence_threshold must be a real number in \(0, 1\]"),
        ({"contextual_weight": -1.0}, ValueError, "contextual_weight must be a positive number"),
        ({"classify": "no"}, TypeError, "classify must be a bool"),
        ({"window_size_points": 0}, ValueError, "window_size_points must be a positive int"),
    ],
)
def test_bad_configuration(kw: dict[str, object], exc: type[Exception], text: str) -> None:
    """Bad settings raise naming the argument."""
    with pytest.raises(exc, match=text):
        EngineRegistry.default().create("combined", **kw)


def test_score_is_the_largest_of_the_three_scorers() -> None:
    """By default each point scores max(novelty, 1.1 * contextual, 0.85 * shape), capped at 1."""
    vals = noise(3000, 5)
    vals[2500:] = [v + 6.0 for v in vals[2500:]]
    a = NoveltyScorer().update_many(vals)
    b = ContextualScorer().update_many(vals)
    c = ShapeScorer().update_many(vals)
    got = CombinedScorer().update_many(vals)
    assert got == [min(1.0, max(x, 1.1 * y, 0.85 * z)) for x, y, z in zip(a, b, c, strict=True)]
    assert repr(CombinedScorer()) == "CombinedScorer(contextual_weight=1.1, shape_weight=0.85)"


def periodic_with_a_skipped_cycle(seed: int) -> tuple[list[float], int]:
    """40 cycles of 48 low and 48 high points (noisy), one cycle that stays low, 3 normal cycles."""
    rng = random.Random(seed)
    cycle = [0.0] * 48 + [10.0] * 48
    vals = [v + rng.gauss(0.0, 0.3) for _ in range(40) for v in cycle]
    skip = len(vals)
    vals += [rng.gauss(0.0, 0.3) for _ in range(96)]
    vals += [v + rng.gauss(0.0, 0.3) for _ in range(3) for v in cycle]
    return vals, skip


def test_shape_scorer_flags_a_cycle_that_skips_its_rise() -> None:
    """A learnt cycle raises no shape alarm; the cycle that stays low does, within 2 x 96 points."""
    vals, skip = periodic_with_a_skipped_cycle(5)
    scores = ShapeScorer().update_many(vals)
    assert max(scores[:skip]) < 0.1
    assert max(scores[skip : skip + 192]) > 0.5
    combined = CombinedScorer().update_many(vals)
    assert max(combined[skip : skip + 192]) >= 0.85 * max(scores[skip : skip + 192])


def test_shape_scorer_streams_equal_batch_and_flat_is_silent() -> None:
    """update() per value and uneven chunks equal one batch; a constant series scores 0 everywhere."""
    vals, _ = periodic_with_a_skipped_cycle(6)
    whole = ShapeScorer().update_many(vals)
    chunked = ShapeScorer()
    got: list[float] = []
    for a, b in itertools.pairwise([0, 1, 33, 249, 250, 251, 1000, 2047, len(vals)]):
        got.extend(chunked.update_many(vals[a:b]))
    assert got == whole
    single = ShapeScorer()
    assert [single.update(v) for v in vals[:600]] == whole[:600]
    assert max(ShapeScorer().update_many([7.5] * 3000)) == 0.0
    assert all(0.0 <= s < 1.0 for s in ShapeScorer().update_many([1e308, -1e308, 1e-300] * 400))


def test_shape_scorer_rejects_bad_values_and_settings() -> None:
    """Bad values name their index; bad settings name the argument."""
    scorer = ShapeScorer(warmup_points=4)
    with pytest.raises(ValueError, match=r"ShapeScorer.values\[2\]: expected a finite real number, got inf"):
        scorer.update_many([1.0, 2.0, float("inf")])
    with pytest.raises(TypeError, match=r"ShapeScorer.values\[0\]: expected a finite real number"):
        ShapeScorer().update_many(["1"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="ramp_blocks must be a non-negative int, got -1"):
        ShapeScorer(ramp_blocks=-1)
    with pytest.raises(ValueError, match="block_points must be a positive int, got 0"):
        ShapeScorer(block_points=0)
    with pytest.raises(ValueError, match=r"shape_weight must be a non-negative number, got -0\.5"):
        CombinedScorer(shape_weight=-0.5)
    with pytest.raises(ValueError, match="shape_weight must be a non-negative number"):
        EngineRegistry.default().create("combined", shape_weight=-1.0)


def test_the_shape_memory_is_bounded_and_keeps_the_shapes_seen_lately() -> None:
    """A series whose coarse shapes hardly repeat (a random level among ten for each 32-point block) fills
    the shape memory to _SHAPES per grid and no further; a shape that keeps coming back is not forgotten;
    a checkpoint from before the bound (sets) resumes, trimmed to it."""
    import pickle

    from backend.analytics.engines import _shape

    rng = random.Random(11)
    walk = [float(level) for _ in range(6000) for level in itertools.repeat(rng.randrange(10), 32)]
    scorer = ShapeScorer()
    sizes = []
    for start in range(0, len(walk), 16_000):
        scorer.update_many(walk[start : start + 16_000])
        sizes.append((len(scorer._seen), len(scorer._seen2)))
    assert sizes[0] < sizes[-1] == sizes[-2] == (_shape._SHAPES, _shape._SHAPES), sizes
    # A recurring shape stays (least recently seen goes first): learn one, then interleave it with new ones.
    memory: dict[tuple[int, ...], None] = {}
    for i in range(3 * _shape._SHAPES):
        _shape._learn(memory, (0,))
        _shape._learn(memory, (i + 1,))
    assert (0,) in memory and len(memory) == _shape._SHAPES and (1,) not in memory
    old = ShapeScorer()
    state = {name: getattr(scorer, name) for name in ShapeScorer.__slots__ if hasattr(scorer, name)}
    state["_seen"], state["_seen2"] = set(scorer._seen) | {(99,) * 8}, set(scorer._seen2)
    old.__setstate__((None, state))
    assert isinstance(old._seen, dict) and len(old._seen) == _shape._SHAPES
    assert pickle.loads(pickle.dumps(old)).update_many(walk[:5000]) == old.update_many(walk[:5000])


class _Scripted(PointScorer):
    """A channel that returns the scores it was given, in order (timestamps ignored)."""

    def __init__(self, scores: list[float]) -> None:
        self.scores = list(scores)

    def update(self, x: float, t: int) -> float:
        return self.update_many([x], [t])[0]

    def update_many(self, values: Sequence[float], stamps: Sequence[int]) -> list[float]:
        out, self.scores = self.scores[: len(values)], self.scores[len(values) :]
        return out


def _with_zscore(novelty: list[float], zscore: list[float]) -> _WithZScore:
    return _WithZScore(_Scripted(novelty), _Scripted(zscore), 1.0)


def test_the_zscore_channel_is_read_in_the_zscore_engines_windows() -> None:
    """A point alarms on the zscore channel when one of the last 10 did (its windows), at their highest."""
    z = [0.1] * 40
    z[5], z[8], z[30] = 0.9, 0.6, 0.5
    got = _with_zscore([0.0] * 40, z).update_many([0.0] * 40, [0] * 40)
    # 5..14 hold the alarm of point 5 (0.9), 15..17 that of point 8 (0.6), 30..39 that of point 30.
    assert [i for i, s in enumerate(got) if s >= 0.5] == [*range(5, 18), *range(30, 40)]
    assert got[5] == got[14] == 0.5 + 0.002 * 0.4
    assert got[15] == got[17] == 0.5 + 0.002 * 0.1
    assert got[18] == 0.05  # (below the line: halved, as before)
    # The novelty channels still rank above it, and a calm stretch stays below the line.
    assert _with_zscore([0.7] * 3, [0.9, 0.1, 0.1]).update_many([0.0] * 3, [0] * 3) == [0.7] * 3


@given(
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=80),
    st.lists(st.integers(1, 15), min_size=1, max_size=20),
)
@settings(max_examples=200, deadline=None)
def test_the_zscore_channels_windows_do_not_depend_on_chunking(z: list[float], cuts: list[int]) -> None:
    """Fed in any chunks, the held alarms carry over: the scores are those of one call."""
    whole = _with_zscore([0.2] * len(z), z).update_many([0.0] * len(z), [0] * len(z))
    scorer = _with_zscore([0.2] * len(z), z)
    got: list[float] = []
    i = 0
    for cut in itertools.cycle(cuts):
        if i >= len(z):
            break
        got += scorer.update_many([0.0] * len(z[i : i + cut]), [0] * len(z[i : i + cut]))
        i += cut
    assert got == whole


def test_a_checkpoint_from_before_the_channels_windows_resumes() -> None:
    """A scorer pickled without the held alarms (an older version) resumes with none held."""
    scorer = _with_zscore([0.0] * 4, [0.9, 0.1, 0.1, 0.1])
    state = scorer.__reduce_ex__(2)[2]
    assert isinstance(state, tuple)
    old = {k: v for k, v in state[1].items() if k not in ("_recent", "_held")}
    restored = _WithZScore.__new__(_WithZScore)
    restored.__setstate__((None, old))
    assert restored.update_many([0.0] * 4, [0] * 4) == [0.5 + 0.002 * 0.4] * 4
    # A current checkpoint keeps its held alarm.
    scorer = _with_zscore([0.0] * 4, [0.9, 0.1, 0.1, 0.1])
    scorer.update_many([0.0], [0])
    again = pickle.loads(pickle.dumps(scorer))
    assert again.update_many([0.0] * 3, [0] * 3) == [0.5 + 0.002 * 0.4] * 3


def test_a_lasting_level_shift_on_a_cycle_raises_one_alarm_not_one_per_flicker() -> None:
    """A deploy's +10 sd shift on a daily cycle: as its alarm fades, it does not return every few minutes."""
    n, onset = 5 * 1440, 3 * 1440 + 600
    for seed in range(3):
        rng = random.Random(seed)
        vals = [
            100.0 * (1 - 0.2 * math.cos(2 * math.pi * (i % 1440) / 1440))
            + rng.gauss(0.0, 2.0)
            + 20.0 * (i >= onset)
            for i in range(n)
        ]
        results = CombinedEngine(classify=False).detect(make(vals))
        runs = [a for a, _ in events_from_labels([r.is_anomalous for r in results]) if a >= onset - 1]
        assert runs and runs[0] <= onset + 5
        # Within 12 hours: at most 3 alarms (read point by point, the zscore channel gave 17 to 35).
        assert len([a for a in runs if a < onset + 720]) <= 3
