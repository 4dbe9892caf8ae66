"""Property tests of the contextual engine: streaming equals batch, causality, bounded finite scores.

The engine's longest channel averages 256 points, so the inputs here are long:
a short drawn pattern repeated, with drawn values (any finite float, 1e-300 to
1e308) written over drawn positions. That keeps every channel live while
Hypothesis shrinks only a few numbers.
"""

from __future__ import annotations

import itertools
import math
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.analytics import MetricSeries
from backend.analytics.engines.contextual import ContextualEngine, ContextualScorer

from .strategies import T0, finite


@st.composite
def long_values(draw: st.DrawFn, max_size: int = 520) -> list[float]:
    """A repeated pattern of moderate values with a few arbitrary finite values written over it."""
    pattern = draw(st.lists(st.floats(-10.0, 10.0), min_size=1, max_size=24))
    size = draw(st.integers(0, max_size))
    out = [pattern[i % len(pattern)] for i in range(size)]
    if size:
        hits = draw(st.lists(st.tuples(st.integers(0, size - 1), finite), max_size=8))
        for i, v in hits:
            out[i] = v
    return out


def small() -> ContextualScorer:
    """A scorer with a short warm-up, so that generated inputs are mostly scored."""
    return ContextualScorer(warmup_points=20, levels=4, rest_points=5)


@settings(max_examples=60, deadline=None)
@given(long_values(), st.lists(st.integers(0, 520), max_size=6))
def test_update_many_in_any_chunks_equals_one_by_one(xs: list[float], cuts: list[int]) -> None:
    """Scores do not depend on how the values are batched."""
    whole = small().update_many(xs)
    one = small()
    assert [one.update(x) for x in xs] == whole
    chunked = small()
    got: list[float] = []
    bounds = [0, *sorted(c for c in cuts if c <= len(xs)), len(xs)]
    for a, b in itertools.pairwise(bounds):
        got.extend(chunked.update_many(xs[a:b]))
    assert got == whole


@settings(max_examples=60, deadline=None)
@given(long_values())
def test_scores_are_finite_and_in_unit_interval(xs: list[float]) -> None:
    """Any finite values, from 1e-300 to 1e308, give finite scores in [0, 1)."""
    for s in small().update_many(xs):
        assert math.isfinite(s) and 0.0 <= s < 1.0


@settings(max_examples=40, deadline=None)
@given(long_values(), st.integers(0, 520))
def test_scores_of_a_prefix_do_not_depend_on_later_values(xs: list[float], cut: int) -> None:
    """Causality of the core: cutting the input leaves the scores of the kept values unchanged."""
    cut = min(cut, len(xs))
    assert small().update_many(xs[:cut]) == small().update_many(xs)[:cut]


@settings(max_examples=40, deadline=None)
@given(st.floats(-1e300, 1e300), st.integers(0, 400))
def test_constant_series_never_scores(level: float, size: int) -> None:
    """A constant series, at any level, scores 0 everywhere."""
    assert set(ContextualScorer().update_many([level] * size)) <= {0.0}


@pytest.mark.filterwarnings("ignore::backend.analytics.errors.UnscoredPointsWarning")  # any stride
@settings(max_examples=25, deadline=None)
@given(
    long_values(max_size=400),
    st.integers(1, 4),
    st.integers(1, 3),
    st.lists(st.integers(0, 400), max_size=4),
)
def test_stream_equals_detect(xs: list[float], w: int, stride: int, cuts: list[int]) -> None:
    """ContextualStream fed in chunks returns exactly detect's results on the whole series."""
    s = MetricSeries("t", "c", "n", "m", [T0 + timedelta(minutes=i) for i in range(len(xs))], xs)
    engine = ContextualEngine(
        window_size_points=w, stride_points=stride, warmup_points=20, levels=4, rest_points=5, classify=False
    )
    stream = engine.stream(*s.ids)
    got = []
    bounds = [0, *sorted(c for c in cuts if c <= len(s)), len(s)]
    for a, b in itertools.pairwise(bounds):
        got.extend(stream.update(s.slice(a, b)))
    expected = engine.detect(s)
    assert got == expected
    assert len(expected) == (max(0, (len(s) - w) // stride + 1) if len(s) >= w else 0)
    for r in expected:
        assert r.is_anomalous == (r.anomaly_score >= engine.score_threshold)
        assert (r.magnitude is not None) == r.is_anomalous
        assert r.magnitude is None or 0.0 <= r.magnitude <= 1.0
