"""Fuzzing every public constructor: extreme valid values stay valid, junk is refused cleanly.

For each public entry point (the three data contracts and their ``from_dict``,
``MetricSeries.from_arrays``, the window extractors, ``AggregationPipeline``,
every built-in engine's configuration through ``EngineRegistry.create``, and
``SQLiteMetricStore``/``RetentionPolicy``):

* a valid value at the edge of its range (years 1 and 9999 at any UTC offset,
  5e-324 and 1.8e308, counts up to 2**63 - 1, settings up to ``MAX_POINTS``,
  retention up to the whole calendar, any Unicode id) is accepted and
  round-trips (``to_dict``/JSON/``from_dict``, pickle, the store, a reopen);
* one argument replaced by junk (see :mod:`tests.reliability.hostile`) is
  either valid after all or refused with a ``ValueError``/``TypeError`` that
  names the argument. Any other exception fails the test.

Sizes: ``scale.size(short, long)`` examples per test (``--long`` for long).
"""

from __future__ import annotations

import inspect
import json
import math
import os
import pickle
import tempfile
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.analytics import (
    AggregatedAnomalyScore,
    AggregationPipeline,
    AggregationStrategy,
    AnomalyResult,
    AnomalyType,
    EngineRegistry,
    MetricSeries,
    SlidingWindowExtractor,
    TimeBasedWindowExtractor,
)
from backend.analytics._validate import MAX_POINTS
from backend.analytics.store import RetentionPolicy, SQLiteMetricStore
from backend.analytics.types import datetime_to_epoch_us
from backend.analytics.windows import _count_windows
from tests.reliability import scale
from tests.reliability.hostile import (
    UTC,
    _BadRepr,
    ascending_us,
    call,
    finite,
    ids,
    instants,
    junk,
    refused_cleanly,
    unit,
)

# Engines are built with any stride, past the window too (each such build warns).
pytestmark = pytest.mark.filterwarnings("ignore::backend.analytics.errors.UnscoredPointsWarning")

EXAMPLES = settings(
    max_examples=scale.size(25, 1500),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
FEW = settings(EXAMPLES, max_examples=scale.size(10, 400))  # for the examples that open a database

SERIES_FIELDS = ("tenant_id", "cluster_id", "node_id", "metric_name", "timestamps", "values", "metadata")
RESULT_FIELDS = (
    "tenant_id",
    "cluster_id",
    "node_id",
    "metric_name",
    "window_start",
    "window_end",
    "anomaly_score",
    "anomaly_label",
    "magnitude",
    "explanation",
)
SCORE_FIELDS = (
    "tenant_id",
    "cluster_id",
    "node_id",
    "aggregation_strategy",
    "aggregate_score",
    "num_metrics_analyzed",
    "num_anomalies_detected",
)


@pytest.fixture(scope="module")
def store() -> Iterator[SQLiteMetricStore]:
    """One store for the round-trip examples (each example writes under a tenant of its own)."""
    with tempfile.TemporaryDirectory() as d, SQLiteMetricStore(Path(d) / "fuzz.db") as s:
        yield s


_tenants = iter(range(10**9))


def fresh_tenant() -> str:
    return f"fuzz-{next(_tenants)}"


# -- MetricSeries -------------------------------------------------------------------------------


@st.composite
def extreme_series(draw: st.DrawFn) -> MetricSeries:
    us = draw(ascending_us())
    values = draw(st.lists(finite, min_size=len(us), max_size=len(us)))
    metadata = draw(
        st.none()
        | st.dictionaries(
            st.text(min_size=1, max_size=5),
            st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | finite | st.text(max_size=5),
            max_size=3,
        )
    )
    return MetricSeries.from_arrays(draw(ids), draw(ids), draw(ids), draw(ids), us, values, metadata)


@EXAMPLES
@given(series=extreme_series())
def test_extreme_series_round_trip(series: MetricSeries) -> None:
    """Years 1..9999, 5e-324..1.8e308, any Unicode id: to_dict/JSON/from_dict, from_arrays, pickle."""
    data = json.loads(json.dumps(series.to_dict(), allow_nan=False))
    assert MetricSeries.from_dict(data) == series
    again = MetricSeries.from_arrays(
        *series.ids, list(series.epoch_us), series.values.tolist(), series.metadata
    )
    assert again == series
    assert pickle.loads(pickle.dumps(series)) == series
    rebuilt = MetricSeries(*series.ids, list(series.timestamps), list(series.values), series.metadata)
    assert rebuilt == series


@EXAMPLES
@given(stamps=st.lists(instants(), max_size=6))
def test_instants_at_any_offset_round_trip(stamps: list[datetime]) -> None:
    """Aware datetimes at any offset, anywhere in the calendar: equal instants after a round trip."""
    ordered = sorted(set(map(datetime_to_epoch_us, stamps)))
    by_us = {datetime_to_epoch_us(t): t for t in stamps}
    series = MetricSeries("t", "c", "n", "m", [by_us[u] for u in ordered], [1.0] * len(ordered))
    back = MetricSeries.from_dict(json.loads(json.dumps(series.to_dict())))
    assert [datetime_to_epoch_us(t) for t in back.timestamps] == ordered


@EXAMPLES
@given(field=st.sampled_from(SERIES_FIELDS), bad=junk, where=st.integers(0, 2), data=st.data())
def test_series_junk_is_refused_naming_the_field(
    field: str, bad: Any, where: int, data: st.DataObject
) -> None:
    """One argument (or one item of timestamps/values) replaced by junk: valid, or a clean refusal."""
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    args: dict[str, Any] = {
        "tenant_id": "t",
        "cluster_id": "c",
        "node_id": "n",
        "metric_name": "m",
        "timestamps": [t0 + timedelta(minutes=i) for i in range(3)],
        "values": [1.0, 2.0, 3.0],
        "metadata": None,
    }
    if field in ("timestamps", "values") and data.draw(st.booleans()):
        args[field][where] = bad  # one bad item: the message names the field and the index
    else:
        args[field] = bad
    call(MetricSeries, **args, names=(field,))
    if field in ("timestamps", "values"):
        other = "epoch_us" if field == "timestamps" else "values"
        us: Any = [0, 60_000_000, 120_000_000] if field == "values" else args["timestamps"]
        vals = args["values"]
        call(MetricSeries.from_arrays, "t", "c", "n", "m", us, vals, names=(other, field))


@EXAMPLES
@given(
    key=st.sampled_from(SERIES_FIELDS), bad=junk, mode=st.sampled_from(["value", "extra", "drop", "whole"])
)
def test_series_from_dict_junk(key: str, bad: Any, mode: str) -> None:
    """from_dict with a junk value, an unknown key, a missing key, or junk for the whole mapping."""
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    data: Any = MetricSeries("t", "c", "n", "m", [t0], [1.0]).to_dict()
    names: tuple[str, ...] = (key,)
    if mode == "value":
        data[key] = bad
    elif mode == "extra":
        try:
            hash(bad)
            extra = bad if bad not in SERIES_FIELDS else f"{bad}_x"
        except TypeError:  # unhashable junk cannot be a key: use its type's name
            extra = type(bad).__name__ + "_x"
        data[extra] = 1
        names = ("unknown key",)
    elif mode == "drop":
        del data[key]
        names = ("missing key", key) if key != "metadata" else (key,)
    else:
        data = bad
        names = ("data", "from_dict", *SERIES_FIELDS)
    call(MetricSeries.from_dict, data, names=names)


@EXAMPLES
@given(us=st.lists(st.one_of(st.integers(), junk), min_size=1, max_size=4))
def test_from_arrays_epoch_junk(us: list[Any]) -> None:
    """Epoch microseconds beyond 64 bits, outside years 1..9999, floats, junk: a clean refusal."""
    # A duplicate is reported as the series' timestamps[i] (the same check as the constructor's).
    call(MetricSeries.from_arrays, "t", "c", "n", "m", us, [1.0] * len(us), names=("epoch_us", "timestamps"))


# -- AnomalyResult ------------------------------------------------------------------------------


@st.composite
def extreme_results(draw: st.DrawFn, tenant: str | None = None) -> AnomalyResult:
    a, b = sorted([draw(instants()), draw(instants())], key=datetime_to_epoch_us)
    score = draw(unit)
    anomalous = [kind for kind in AnomalyType if kind is not AnomalyType.NORMAL]
    label = AnomalyType.NORMAL if score < 0.5 else draw(st.sampled_from(anomalous))
    return AnomalyResult(
        tenant or draw(ids),
        draw(ids),
        draw(ids),
        draw(ids),
        a,
        b,
        score,
        draw(st.sampled_from([label, label.value])),
        draw(st.none() | unit),
        draw(st.none() | st.text(max_size=40)),
    )


@FEW
@given(results=st.lists(extreme_results(tenant="x"), min_size=1, max_size=5))
def test_extreme_results_round_trip_through_dict_and_store(
    results: list[AnomalyResult], store: SQLiteMetricStore
) -> None:
    """Windows at years 1 and 9999 at any offset, scores 0..1 with 5e-324: dict, JSON and the store."""
    for r in results:
        assert AnomalyResult.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    tenant = fresh_tenant()
    mine = [replace(r, tenant_id=tenant) for r in results]
    store.write_results(mine, engine="fuzz")
    stored = store.read_results(tenant)
    # Last write wins per (series, window): compare as sets of what should be there.
    expected = {(r.cluster_id, r.node_id, r.metric_name, r.window_start, r.window_end): r for r in mine}
    assert len(stored) == len(expected)
    for got in stored:
        want = expected[(got.cluster_id, got.node_id, got.metric_name, got.window_start, got.window_end)]
        assert got == want
    # The year-1 reproducer: every read path still works after such a write.
    store.read_results(tenant, start=results[0].window_start, end=results[0].window_end)
    store.read_results(tenant, anomalous_only=True)


@EXAMPLES
@given(field=st.sampled_from(RESULT_FIELDS), bad=junk)
def test_result_junk_is_refused_naming_the_field(field: str, bad: Any) -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    args: dict[str, Any] = dict(
        zip(RESULT_FIELDS, ("t", "c", "n", "m", t0, t0, 0.9, AnomalyType.SPIKE, 0.5, "text"), strict=True)
    )
    args[field] = bad
    names = (field, "window_start must be <= window_end")
    call(AnomalyResult, **args, names=names)
    good = AnomalyResult("t", "c", "n", "m", t0, t0, 0.9, AnomalyType.SPIKE, 0.5, "text").to_dict()
    good[field] = bad
    call(AnomalyResult.from_dict, good, names=names)


# -- AggregatedAnomalyScore ---------------------------------------------------------------------


@st.composite
def extreme_scores(draw: st.DrawFn) -> AggregatedAnomalyScore:
    level = draw(st.sampled_from(["node", "cluster", "tenant"]))
    cluster = draw(ids) if level != "tenant" else None
    node = draw(ids) if level == "node" else None
    count = st.one_of(st.integers(0, 2**63 - 1), st.sampled_from([0, 1, 2**63 - 1]))
    return AggregatedAnomalyScore(
        "x",
        cluster,
        node,
        draw(st.sampled_from([*AggregationStrategy, *(s.value for s in AggregationStrategy)])),
        draw(unit),
        draw(count),
        draw(count),
    )


@FEW
@given(scores=st.lists(extreme_scores(), min_size=1, max_size=5), at=instants())
def test_extreme_scores_round_trip_through_dict_and_store(
    scores: list[AggregatedAnomalyScore], at: datetime, store: SQLiteMetricStore
) -> None:
    """Counts up to 2**63 - 1 and snapshots at any instant: dict, JSON and the store."""
    for s in scores:
        assert AggregatedAnomalyScore.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    tenant = fresh_tenant()
    mine = [replace(s, tenant_id=tenant) for s in scores]
    store.write_aggregates(mine, computed_at=at, engine="fuzz")
    expected = {(s.cluster_id, s.node_id, s.aggregation_strategy): s for s in mine}
    stored = store.read_aggregates(tenant)
    assert sorted(map(repr, stored)) == sorted(map(repr, expected.values()))
    assert [datetime_to_epoch_us(t) for t in store.aggregate_snapshots(tenant)] == [datetime_to_epoch_us(at)]


@EXAMPLES
@given(field=st.sampled_from(SCORE_FIELDS), bad=junk)
def test_score_junk_is_refused_naming_the_field(field: str, bad: Any) -> None:
    args: dict[str, Any] = dict(zip(SCORE_FIELDS, ("t", "c", "n", "max", 0.5, 3, 1), strict=True))
    args[field] = bad
    names: tuple[str, ...] = (field,)
    if field == "cluster_id":
        names = (field, "without a cluster_id")
    call(AggregatedAnomalyScore, **args, names=names)
    data = AggregatedAnomalyScore("t", "c", "n", "max", 0.5, 3, 1).to_dict()
    data[field] = bad
    call(AggregatedAnomalyScore.from_dict, data, names=names)


# -- windows --------------------------------------------------------------------------------------


@EXAMPLES
@given(
    size=st.one_of(st.integers(1, 50), st.sampled_from([MAX_POINTS, 10**18])),
    stride=st.one_of(st.integers(1, 50), st.sampled_from([MAX_POINTS, 10**18])),
    partial=st.booleans(),
    n=st.integers(0, 120),
)
def test_sliding_windows_extremes(size: int, stride: int, partial: bool, n: int) -> None:
    """Any positive size and stride: windows from index 0 by the stride, full ones exactly ``size``."""
    series = MetricSeries.from_arrays("t", "c", "n", "m", range(n), [0.0] * n)
    windows = SlidingWindowExtractor(size, stride, partial).extract(series)
    assert [w.start_index for w in windows] == list(range(0, len(windows) * stride, stride))
    for w in windows:
        assert 0 <= w.start_index < w.end_index <= n
        assert (w.end_index - w.start_index == size) != w.is_partial
        assert w.start_time == series.timestamps[w.start_index]
        assert w.end_time == series.timestamps[w.end_index - 1]
    assert partial or not any(w.is_partial for w in windows)


@EXAMPLES
@given(
    window=st.one_of(st.timedeltas(min_value=timedelta(microseconds=1)), st.just(timedelta.max)),
    stride=st.one_of(st.timedeltas(min_value=timedelta(microseconds=1)), st.just(timedelta.max)),
    partial=st.booleans(),
    us=ascending_us(max_size=10),
)
def test_time_windows_extremes(window: timedelta, stride: timedelta, partial: bool, us: list[int]) -> None:
    """Spans from 1 µs to timedelta.max over a series spread across the calendar: the contract's windows.

    The windows' count equals an independent count (the union of each point's windows); more than
    ``max(n, MAX_POINTS)`` of them is a ValueError naming window and stride, never a hang.
    """
    series = MetricSeries.from_arrays("t", "c", "n", "m", us, [0.0] * len(us))
    extractor = TimeBasedWindowExtractor(window, stride, partial)
    one = timedelta(microseconds=1)
    w_us, s_us = window // one, stride // one
    expected = 0
    if us:
        k_cap = (us[-1] - us[0] - (0 if partial else w_us)) // s_us
        expected = _count_windows(series.epoch_us, w_us, s_us, k_cap)
    if expected > max(len(us), MAX_POINTS):
        with pytest.raises(ValueError, match=r"window=.* with stride=.* windows"):
            extractor.extract(series)
        return
    if expected > 20_000:
        return  # valid, but too many windows to build in every example
    windows = extractor.extract(series)
    assert len(windows) == expected
    # Brute force: every window k that holds a point, straight from the contract's definition.
    t0, t_last = us[0] if us else 0, us[-1] if us else 0
    ks: set[int] = set()
    for p in us:
        ks.update(range(max(0, -((w_us - 1 - (p - t0)) // s_us)), min((p - t0) // s_us, k_cap) + 1))
    want = []
    for k in sorted(ks):
        lo, hi = bisect_left(us, t0 + k * s_us), bisect_left(us, t0 + k * s_us + w_us)
        want.append((lo, hi, t_last < t0 + k * s_us + w_us))
    assert [(w.start_index, w.end_index, w.is_partial) for w in windows] == want


@EXAMPLES
@given(
    cls=st.sampled_from([SlidingWindowExtractor, TimeBasedWindowExtractor]),
    position=st.integers(0, 2),
    bad=junk,
)
def test_window_extractor_junk(cls: type, position: int, bad: Any) -> None:
    names = list(inspect.signature(cls).parameters)
    good: list[Any] = [5, 2, False] if cls is SlidingWindowExtractor else [timedelta(1), timedelta(1), False]
    good[position] = bad
    call(cls, *good, names=(names[position], "window and stride"))


# -- aggregation ---------------------------------------------------------------------------------


@EXAMPLES
@given(
    results=st.lists(extreme_results(), min_size=1, max_size=8),
    strategy=st.sampled_from(list(AggregationStrategy)),
    weight=st.one_of(st.sampled_from([0.0, 5e-324, 1.0, 1e308, 1.7976931348623157e308]), st.floats(0, 1e308)),
    threshold=unit,
)
def test_pipeline_extremes_give_scores_in_range(
    results: list[AnomalyResult], strategy: AggregationStrategy, weight: float, threshold: float
) -> None:
    """Weights 0 to 1.8e308 and any threshold: every level's scores are finite, in [0, 1]."""
    weights = {r.metric_name: weight for r in results} if strategy is AggregationStrategy.WEIGHTED else None
    pipeline = AggregationPipeline(strategy, weights, threshold)
    fleet = pipeline.run(results)
    for s in [*fleet.nodes, *fleet.clusters, *fleet.tenants]:
        assert 0.0 <= s.aggregate_score <= 1.0
    left_out = strategy is AggregationStrategy.WEIGHTED and weight == 0.0  # (weight 0: not counted)
    assert sum(s.num_metrics_analyzed for s in fleet.tenants) == (
        0 if left_out else len({(r.tenant_id, r.cluster_id, r.node_id, r.metric_name) for r in results})
    )


@EXAMPLES
@given(field=st.sampled_from(["strategy", "weights", "anomaly_threshold", "default_weight"]), bad=junk)
def test_pipeline_junk(field: str, bad: Any) -> None:
    args: dict[str, Any] = {"strategy": "weighted", "weights": {"cpu": 1.0}, "anomaly_threshold": 0.5}
    args[field] = bad
    call(AggregationPipeline, **args, names=(field,))


# -- engines through the registry -------------------------------------------------------------

REGISTRY = EngineRegistry.default()
BUILT_INS = ["combined", "contextual", "novelty", "zscore"]
SHORT = MetricSeries.from_arrays(
    "t", "c", "n", "m", [i * 60_000_000 for i in range(40)], [float(i % 7) for i in range(40)]
)


def _keywords(name: str) -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(REGISTRY.get(name)).parameters)


def _extreme(param: inspect.Parameter) -> st.SearchStrategy[Any]:
    """Values at the edges of what the parameter's type allows (many are refused, cleanly)."""
    default = param.default
    if isinstance(default, bool):
        return st.booleans()
    if isinstance(default, int) or param.annotation in ("int", "int | None"):
        return st.sampled_from([0, 1, 2, 3, 8, 16, MAX_POINTS - 1, MAX_POINTS, MAX_POINTS + 1, 2**63, 10**18])
    if isinstance(default, float):
        return st.sampled_from([0.0, 5e-324, 1e-300, 0.5, 1.0, 100.0, 1e300, 1.7976931348623157e308])
    if isinstance(default, tuple):
        return st.lists(st.sampled_from([1, 2, 64, MAX_POINTS, 10**9]), min_size=1, max_size=3).map(
            lambda xs: tuple(sorted(set(xs)))
        )
    return junk


@EXAMPLES
@given(name=st.sampled_from(BUILT_INS), data=st.data())
def test_engine_configuration_extremes(name: str, data: st.DataObject) -> None:
    """Each setting at its edges: a working engine (finite scores in [0, 1]) or a refusal naming it."""
    params = _keywords(name)
    chosen = data.draw(st.lists(st.sampled_from(sorted(params)), min_size=1, max_size=3, unique=True))
    config = {k: data.draw(_extreme(params[k]), label=k) for k in chosen}
    # A constraint between settings (novelty: warmup_points >= the largest of scales) may name the
    # other setting of the pair, so any of the engine's setting names will do here.
    engine = call(REGISTRY.create, name, **config, names=tuple(params))
    if engine is None:
        return
    for key, value in config.items():
        assert getattr(engine, key) == value  # the settings are kept as given (repr shows them)
    for r in engine.detect(SHORT):
        assert 0.0 <= r.anomaly_score <= 1.0 and math.isfinite(r.anomaly_score)
    if hasattr(engine, "stream"):
        stream = engine.stream(*SHORT.ids)
        stream.update(SHORT)


@EXAMPLES
@given(name=st.sampled_from(BUILT_INS), data=st.data(), bad=junk)
def test_engine_configuration_junk(name: str, data: st.DataObject, bad: Any) -> None:
    """A junk value for any setting: a clean ValueError/TypeError naming the setting."""
    key = data.draw(st.sampled_from(sorted(_keywords(name))))
    # novelty checks warmup_points >= the largest of scales; a huge scale is reported that way.
    call(REGISTRY.create, name, **{key: bad}, names=(key, "largest scale"))


def _nested(depth: int) -> list[object]:
    nested: list[object] = []
    for _ in range(depth):
        nested = [nested]
    return nested


@pytest.mark.parametrize(
    "item", [_nested(60_000), _BadRepr(), "x" * 100_000], ids=["nested", "bad_repr", "long"]
)
def test_novelty_unprintable_scale_is_a_clean_type_error(item: object) -> None:
    with pytest.raises(TypeError, match=r"scales\[0\]") as info:
        REGISTRY.create("novelty", scales=(item,))
    assert len(str(info.value)) < 2_000


def test_novelty_astronomical_levels_is_a_clean_value_error() -> None:
    with pytest.raises(ValueError, match="levels"):
        REGISTRY.create("novelty", levels=10**400)


# -- the store and its retention policy ---------------------------------------------------------

DAYS_1_9999 = datetime.max - datetime.min


@FEW
@given(
    hot=st.one_of(
        st.timedeltas(min_value=timedelta(microseconds=1), max_value=DAYS_1_9999),
        st.sampled_from([timedelta(microseconds=1), timedelta(days=3_000_000), DAYS_1_9999]),
    ),
    interval=st.one_of(
        st.timedeltas(min_value=timedelta(microseconds=1), max_value=DAYS_1_9999),
        st.sampled_from([timedelta(microseconds=1), timedelta(hours=1), DAYS_1_9999]),
    ),
    nows=st.lists(instants(), min_size=1, max_size=3),
    point=instants(),
)
def test_extreme_retention_policies_survive_reopen_and_retention(
    hot: timedelta, interval: timedelta, nows: list[datetime], point: datetime
) -> None:
    """Any policy within the calendar: stored, reopened, applied at any instant; points reconcile."""
    policy = RetentionPolicy(hot_retention=hot, rollup_interval=interval)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "r.db"
        with SQLiteMetricStore(path, policy=policy) as s:
            s.write_points("t", "c", "n", "m", [point], [1.0])
            for now in nows:
                s.apply_retention(now)
                horizon = s.horizon
                assert horizon is None or horizon.tzinfo is not None
        with SQLiteMetricStore(path) as s:
            assert s.policy == policy
            counts = s.tier_counts()
            assert counts["hot"] + counts["cold"] == 1  # the point is in exactly one tier
            lo, hi = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
            with refused_cleanly("start", "end"):
                cold = s.get_rollup_buckets("t", "c", "n", "m", lo, hi)
                assert sum(b.count for b in cold) == counts["cold"]


@FEW
@given(field=st.sampled_from(["path", "policy", "synchronous", "timeout"]), bad=junk)
def test_store_argument_junk(field: str, bad: Any) -> None:
    """Junk for any store argument: a clean refusal (never a raw sqlite3 error)."""
    with tempfile.TemporaryDirectory() as d:
        args: dict[str, Any] = {
            "path": Path(d) / "s.db",
            "policy": None,
            "synchronous": "FULL",
            "timeout": 5.0,
        }
        args[field] = bad
        path = args.pop("path")
        # A junk str or bytes path is relative: it must land in the temporary directory.
        with working_directory(d):
            store = call(SQLiteMetricStore, path, **args, names=(field,))
            if store is not None:
                store.close()


@contextmanager
def working_directory(path: str) -> Iterator[None]:
    """``contextlib.chdir`` (Python 3.11+) for 3.10."""
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@EXAMPLES
@given(field=st.sampled_from(["hot_retention", "rollup_interval"]), bad=junk)
def test_retention_policy_junk(field: str, bad: Any) -> None:
    call(RetentionPolicy, **{field: bad}, names=(field,))


@FEW
@given(now=st.one_of(junk, instants()), start=st.one_of(junk, instants()), end=st.one_of(junk, instants()))
def test_store_time_arguments(now: Any, start: Any, end: Any, store: SQLiteMetricStore) -> None:
    """Junk or extreme times for every read and retention call: a result or a clean refusal."""
    tenant = fresh_tenant()
    call(store.read_results, tenant, start=start, end=end, names=("start", "end"))
    call(store.read_aggregates, tenant, computed_at=start, names=("computed_at",))
    store.write_points(tenant, "c", "n", "m", [datetime(2024, 1, 1, tzinfo=UTC)], [1.0])
    for read in (store.get_metric_series, store.get_rollup_buckets):
        call(read, tenant, "c", "n", "m", start, end, names=("start", "end"))
    with tempfile.TemporaryDirectory() as d, SQLiteMetricStore(Path(d) / "r.db") as own:
        call(own.apply_retention, now, names=("now",))
        assert own.horizon is None or own.horizon.tzinfo is not None
