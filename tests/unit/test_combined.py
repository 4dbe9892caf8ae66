"""Unit tests of the built-in combined engine (max of the novelty and contextual point scores)."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta, timezone

import pytest

from backend.analytics import EngineRegistry, MetricSeries
from backend.analytics.engines import CombinedEngine, CombinedScorer, ContextualScorer, NoveltyScorer
from backend.analytics.engines._shape import ShapeScorer
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
