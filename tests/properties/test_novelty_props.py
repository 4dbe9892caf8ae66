"""Property tests of the novelty engine: streaming equals batch, causality, bounded finite scores."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.analytics import MetricSeries
from backend.analytics.engines.novelty import NoveltyEngine, NoveltyScorer

from .strategies import finite, series


def small() -> NoveltyScorer:
    """A scorer with small settings, so that short generated inputs get past the warm-up."""
    return NoveltyScorer(warmup_points=8, scales=(1, 2, 4), levels=4, rest_points=5)


values = st.lists(st.one_of(finite, st.floats(-10.0, 10.0)), min_size=0, max_size=80)


@settings(max_examples=80, deadline=None)
@given(values, st.lists(st.integers(0, 80), max_size=6))
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


@settings(max_examples=80, deadline=None)
@given(values)
def test_scores_are_finite_and_in_unit_interval(xs: list[float]) -> None:
    """Any finite values, from 1e-300 to 1e308, give finite scores in [0, 1)."""
    for s in small().update_many(xs):
        assert math.isfinite(s) and 0.0 <= s < 1.0


@settings(max_examples=60, deadline=None)
@given(values, st.integers(0, 80))
def test_scores_of_a_prefix_do_not_depend_on_later_values(xs: list[float], cut: int) -> None:
    """Causality of the core: cutting the input leaves the scores of the kept values unchanged."""
    cut = min(cut, len(xs))
    assert small().update_many(xs[:cut]) == small().update_many(xs)[:cut]


@pytest.mark.filterwarnings("ignore::backend.analytics.errors.UnscoredPointsWarning")  # any stride
@settings(max_examples=40, deadline=None)
@given(
    series(min_size=0, max_size=60),
    st.integers(1, 4),
    st.integers(1, 3),
    st.lists(st.integers(0, 60), max_size=4),
)
def test_stream_equals_detect(s: MetricSeries, w: int, stride: int, cuts: list[int]) -> None:
    """NoveltyStream fed in chunks returns exactly detect's results on the whole series."""
    engine = NoveltyEngine(
        window_size_points=w, stride_points=stride, warmup_points=8, scales=(1, 2, 4), levels=4, rest_points=5
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
