"""Property tests of the core's invariants: determinism, windows, round-trips, causality, isolation."""

from __future__ import annotations

import json
import math
import random
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.analytics import (
    AggregatedAnomalyScore,
    AggregationPipeline,
    AggregationStrategy,
    AnomalyResult,
    MetricSeries,
    SlidingWindowExtractor,
    TimeBasedWindowExtractor,
)
from backend.analytics.engines import ZScoreEngine

from .strategies import T0, finite, series

# Engines are built with any stride, past the window too (each such build warns).
pytestmark = pytest.mark.filterwarnings("ignore::backend.analytics.errors.UnscoredPointsWarning")

engine_configs = st.builds(
    lambda w, s, thr, warm, level, days, scale, classify, recent: ZScoreEngine(
        window_size_points=w,
        stride_points=s,
        z_threshold=thr,
        warmup_points=warm,
        level_points=level,
        season_days=days,
        scale_points=scale,
        classify=classify,
        classifier_history_points=64,
        recent_levels=recent,
    ),
    st.integers(1, 8),
    st.integers(1, 8),
    st.sampled_from([1.0, 2.5, 4.0]),
    st.integers(8, 40),
    st.integers(1, 40),
    st.integers(3, 6),
    st.integers(16, 600),
    st.booleans(),
    st.booleans(),
)


@st.composite
def anomalous_series(draw: st.DrawFn) -> MetricSeries:
    """A daily cycle with noise and a few injected jumps, at a step that spans up to weeks.

    Long enough to pass every warm-up, to fill the daily profiles (steps of
    an hour over up to 600 points are 25 days) and to make streams trim
    their buffers.
    """
    n = draw(st.integers(0, 600))
    step = draw(st.sampled_from([30, 300, 3600, 7200]))
    rng = random.Random(draw(st.integers(0, 2**32)))
    level = draw(st.sampled_from([0.0, 1e-6, 50.0, 1e9]))
    swing = draw(st.sampled_from([0.0, 5.0]))
    per_day = 86400 // step
    vals = [level + swing * math.sin(2 * math.pi * i / per_day) + rng.gauss(0, 1) for i in range(n)]
    for _ in range(draw(st.integers(0, 3))):
        if n:
            vals[rng.randrange(n)] += rng.choice([-1, 1]) * rng.uniform(3, 30)
    if n and draw(st.booleans()):  # a level shift held for a while: long episodes of anomalous windows
        at, shift = rng.randrange(n), rng.choice([-1, 1]) * rng.uniform(5, 40)
        for i in range(at, min(n, at + rng.randrange(1, 300))):
            vals[i] += shift
    return MetricSeries("t", "c", "n", "m", [T0 + timedelta(seconds=step * i) for i in range(n)], vals)


@given(series(values=finite))
def test_series_round_trip(s: MetricSeries) -> None:
    """from_dict(to_dict(s)) == s, through JSON, for any finite values."""
    assert MetricSeries.from_dict(json.loads(json.dumps(s.to_dict()))) == s


@given(
    series(),
    st.floats(0, 1),
    st.sampled_from(["spike", "trend", "seasonal", "normal"]),
    st.none() | st.floats(0, 1),
)
def test_result_round_trip(s: MetricSeries, score: float, label: str, magnitude: float | None) -> None:
    """AnomalyResult round-trips through JSON."""
    if (score < 0.5) is not (label == "normal"):  # the label is NORMAL exactly below the alarm line
        label = "normal" if score < 0.5 else "spike"
    r = AnomalyResult("t", "c", "n", "m", T0, T0 + timedelta(hours=1), score, label, magnitude, "x")
    assert AnomalyResult.from_dict(json.loads(json.dumps(r.to_dict()))) == r


@given(series(max_size=80), st.integers(1, 10), st.integers(1, 10), st.booleans())
def test_sliding_windows_boundaries(s: MetricSeries, size: int, stride: int, partial: bool) -> None:
    """Windows start at multiples of the stride; full ones hold `size` points; a partial one ends it."""
    windows = SlidingWindowExtractor(size, stride, partial).extract(s)
    assert windows == SlidingWindowExtractor(size, stride, partial).extract(s)
    for k, w in enumerate(windows):
        assert w.start_index == k * stride
        assert w.start_time == s.timestamps[w.start_index] and w.end_time == s.timestamps[w.end_index - 1]
        if w.is_partial:
            assert partial and w.end_index == len(s) and len(w) < size and k == len(windows) - 1
        else:
            assert len(w) == size
    full = [w for w in windows if not w.is_partial]
    assert len(full) == (0 if len(s) < size else (len(s) - size) // stride + 1)


@given(series(max_size=60), st.integers(1, 900), st.integers(1, 900), st.booleans())
def test_time_windows_match_definition(s: MetricSeries, width_s: int, stride_s: int, partial: bool) -> None:
    """Each window holds exactly its half-open interval's points; none is empty; partial iff past the data."""
    ex = TimeBasedWindowExtractor(timedelta(seconds=width_s), timedelta(seconds=stride_s), partial)
    windows = ex.extract(s)
    if not len(s):
        assert windows == []
        return
    t0, last = s.timestamps[0], s.timestamps[len(s) - 1]
    expected = []
    k = 0
    while t0 + k * timedelta(seconds=stride_s) <= last:
        lo = t0 + k * timedelta(seconds=stride_s)
        hi = lo + timedelta(seconds=width_s)
        inside = [i for i, t in enumerate(s.timestamps) if lo <= t < hi]
        is_partial = last < hi
        if inside and (partial or not is_partial):
            expected.append((inside[0], inside[-1] + 1, is_partial))
        k += 1
    assert [(w.start_index, w.end_index, w.is_partial) for w in windows] == expected


@settings(max_examples=60)
@given(anomalous_series(), engine_configs)
def test_zscore_deterministic_and_contract(s: MetricSeries, engine: ZScoreEngine) -> None:
    """Same input, same output; scores in [0, 1]; NORMAL iff score < 0.5; ordered; ids carried."""
    first = engine.detect(s)
    assert first == engine.detect(s)
    starts = [r.window_start for r in first]
    assert starts == sorted(starts)
    for r in first:
        assert (r.tenant_id, r.cluster_id, r.node_id, r.metric_name) == s.ids
        assert 0.0 <= r.anomaly_score <= 1.0
        assert r.is_anomalous == (r.anomaly_score >= 0.5)


@settings(max_examples=60)
@given(anomalous_series(), engine_configs, st.data())
def test_zscore_causal(s: MetricSeries, engine: ZScoreEngine, data: st.DataObject) -> None:
    """Cutting the series after a window leaves that window's result unchanged."""
    results = engine.detect(s)
    if not results:
        return
    r = data.draw(st.sampled_from(results))
    end_index = list(s.timestamps).index(r.window_end) + 1
    truncated = engine.detect(s.slice(0, end_index))
    assert truncated[-1] == r


@settings(max_examples=60)
@given(anomalous_series(), engine_configs, st.lists(st.integers(1, 40), max_size=12))
def test_stream_equals_detect(s: MetricSeries, engine: ZScoreEngine, cuts: list[int]) -> None:
    """Feeding the series in arbitrary chunks gives exactly detect()'s results."""
    stream = engine.stream(*s.ids)
    got = []
    pos = 0
    for size in [*cuts, len(s)]:
        if pos >= len(s):
            break
        got.extend(stream.update(s.slice(pos, pos + size)))
        pos += size
    assert got == engine.detect(s)


scores_st = st.lists(
    st.tuples(
        st.sampled_from(["t1", "t2"]),
        st.sampled_from(["c1", "c2"]),
        st.sampled_from(["n1", "n2", "n3"]),
        st.sampled_from(["cpu", "mem", "disk"]),
        st.floats(0, 1),
    ),
    max_size=40,
)


@given(scores_st, st.sampled_from(list(AggregationStrategy)), st.randoms(use_true_random=False))
def test_aggregation_order_independent(
    rows: list[tuple[str, str, str, str, float]], strategy: AggregationStrategy, rnd: random.Random
) -> None:
    """Aggregates do not depend on the order of the input results."""
    weights = {"cpu": 2.0, "mem": 1.0, "disk": 0.5} if strategy is AggregationStrategy.WEIGHTED else None
    p = AggregationPipeline(strategy, weights)
    results = [
        AnomalyResult(t, c, n, m, T0, T0, s, "spike" if s >= 0.5 else "normal") for t, c, n, m, s in rows
    ]
    shuffled = results[:]
    rnd.shuffle(shuffled)
    a, b = p.run(results), p.run(shuffled)
    assert a == b
    for level in (a.nodes, a.clusters, a.tenants):
        assert all(0.0 <= x.aggregate_score <= 1.0 for x in level)


def _label(score: float, anomalous: str) -> str:
    return "normal" if score < 0.5 else anomalous


@given(scores_st, scores_st, st.sampled_from(list(AggregationStrategy)))
def test_tenant_isolation(
    mine: list[tuple[str, str, str, str, float]],
    other: list[tuple[str, str, str, str, float]],
    strategy: AggregationStrategy,
) -> None:
    """Adding another tenant's results (same cluster/node names) never changes this tenant's scores."""
    weights = {"cpu": 2.0, "mem": 1.0, "disk": 0.5} if strategy is AggregationStrategy.WEIGHTED else None
    p = AggregationPipeline(strategy, weights)
    # Labels follow the scores (NORMAL exactly below 0.5); the other tenant's anomalies are trends.
    mine_r = [AnomalyResult("me", c, n, m, T0, T0, s, _label(s, "spike")) for _, c, n, m, s in mine]
    other_r = [AnomalyResult("other", c, n, m, T0, T0, s, _label(s, "trend")) for _, c, n, m, s in other]

    def of_me(scores: list[AggregatedAnomalyScore]) -> list[AggregatedAnomalyScore]:
        return [x for x in scores if x.tenant_id == "me"]

    alone, mixed = p.run(mine_r), p.run(other_r + mine_r)
    assert of_me(alone.nodes) == of_me(mixed.nodes)
    assert of_me(alone.clusters) == of_me(mixed.clusters)
    assert of_me(alone.tenants) == of_me(mixed.tenants)
    assert p.top_nodes(alone.nodes, 3, tenant_id="me") == p.top_nodes(mixed.nodes, 3, tenant_id="me")


@settings(max_examples=30)
@given(
    anomalous_series(),
    st.sampled_from(["novelty", "contextual", "combined"]),
    st.integers(1, 4),
    st.integers(1, 4),
    st.lists(st.integers(1, 60), max_size=8),
)
def test_point_scoring_streams_equal_detect(
    s: MetricSeries, name: str, w: int, stride: int, cuts: list[int]
) -> None:
    """novelty, contextual and combined: any chunking of the stream gives exactly detect()'s results."""
    from backend.analytics import EngineRegistry

    engine = EngineRegistry.default().create(name, window_size_points=w, stride_points=stride)
    stream = engine.stream(*s.ids)  # type: ignore[attr-defined]
    got = []
    pos = 0
    for size in [*cuts, len(s)]:
        if pos >= len(s):
            break
        got.extend(stream.update(s.slice(pos, pos + size)))
        pos += size
    assert got == engine.detect(s)
