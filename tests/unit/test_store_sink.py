"""Unit tests for the SQLite store's result sink: results and aggregates, by engine, and their indexes."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.analytics import (
    AggregatedAnomalyScore,
    AggregationPipeline,
    AggregationStrategy,
    AnomalyResult,
    AnomalyType,
)
from backend.analytics.store import ResultSink, SQLiteMetricStore
from backend.analytics.store._sink import _results_statement

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
MIN = timedelta(minutes=1)


def _window(
    cluster: str, node: str, metric: str, start: int, minutes: int, score: float, label: str
) -> AnomalyResult:
    """A result of tenant acme on the window [T0 + start minutes, + minutes)."""
    since = T0 + start * MIN
    return AnomalyResult("acme", cluster, node, metric, since, since + minutes * MIN, score, label)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteMetricStore]:
    with SQLiteMetricStore(tmp_path / "m.db", synchronous="NORMAL") as s:
        yield s


def _result(
    node: str, minute: int, score: float, label: AnomalyType, tenant: str = "acme", metric: str = "cpu"
) -> AnomalyResult:
    return AnomalyResult(
        tenant, "c-1", node, metric, T0 + minute * MIN, T0 + (minute + 4) * MIN, score, label, 0.5, "why"
    )


def test_store_is_a_result_sink(store: SQLiteMetricStore) -> None:
    """SQLiteMetricStore satisfies the ResultSink protocol."""
    assert isinstance(store, ResultSink)


def test_results_round_trip_filter_and_upsert(store: SQLiteMetricStore) -> None:
    """Results read back equal, filtered by ids/time/label; rewriting a window replaces it."""
    rs = [
        _result("n-1", 0, 0.1, AnomalyType.NORMAL),
        _result("n-1", 5, 0.9, AnomalyType.SPIKE),
        _result("n-2", 0, 0.7, AnomalyType.TREND),
    ]
    assert store.write_results(rs, engine="zscore") == 3
    store.write_results([_result("n-1", 0, 0.1, AnomalyType.NORMAL, tenant="other")], engine="zscore")
    assert store.read_results("acme") == rs
    assert store.read_results("acme", node_id="n-2") == [rs[2]]
    assert store.read_results("acme", cluster_id="c-1", node_id="n-2", metric_name="cpu") == [rs[2]]
    assert store.read_results("acme", anomalous_only=True) == rs[1:]
    assert store.read_results("acme", start=T0 + MIN, end=T0 + 6 * MIN) == [rs[1]]
    store.write_results([_result("n-1", 5, 0.95, AnomalyType.TREND)], engine="zscore")
    assert [r.anomaly_score for r in store.read_results("acme")] == [0.1, 0.95, 0.7]


def test_two_engines_on_the_same_windows_coexist(store: SQLiteMetricStore) -> None:
    """Results of two engines on the same windows are both kept; engine= filters, None reads all."""
    zscore = [_result("n-1", k, 0.1, AnomalyType.NORMAL) for k in range(0, 50, 5)]
    combined = [_result("n-1", k, 0.8, AnomalyType.SPIKE) for k in range(0, 60, 5)]
    store.write_results(zscore, engine="zscore")
    store.write_results(combined, engine="combined")
    assert store.read_results("acme", engine="zscore") == zscore
    assert store.read_results("acme", engine="combined") == combined
    both = store.read_results("acme")
    assert len(both) == len(zscore) + len(combined)
    # Same window: ordered by engine name, so "combined" comes before "zscore".
    assert both[:2] == [combined[0], zscore[0]]
    assert store.result_engines("acme") == ["combined", "zscore"]
    assert store.result_engines("other") == []
    assert store.read_results("acme", engine="novelty") == []


def test_write_results_needs_an_engine_name(store: SQLiteMetricStore) -> None:
    """engine is required and must be a non-empty str; a wrong item names its index, briefly."""
    r = _result("n-1", 0, 0.1, AnomalyType.NORMAL)
    with pytest.raises(TypeError, match="engine"):
        store.write_results([r])  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="write_results: engine must be a non-empty str, got ''"):
        store.write_results([r], engine="")
    with pytest.raises(TypeError, match=r"results\[1\] must be an AnomalyResult, got \{'anomaly_label'"):
        store.write_results([r, r.to_dict()], engine="zscore")  # type: ignore[list-item]
    assert store.read_results("acme") == []  # the failed call wrote nothing


def test_aggregates_accept_what_the_pipeline_returns(store: SQLiteMetricStore) -> None:
    """write_aggregates takes each level's list, the lists chained, or the FleetScores of run()."""
    results = [
        _result("n-1", 0, 0.9, AnomalyType.SPIKE),
        _result("n-2", 0, 0.2, AnomalyType.NORMAL),
        _result("n-1", 0, 0.4, AnomalyType.NORMAL, metric="mem"),
    ]
    pipeline = AggregationPipeline()
    nodes = pipeline.aggregate_nodes(results)
    clusters = pipeline.aggregate_clusters(nodes)
    tenants = pipeline.aggregate_tenants(clusters)
    assert store.write_aggregates(nodes, computed_at=T0, engine="zscore") == 2
    assert store.write_aggregates(clusters, computed_at=T0, engine="zscore") == 1
    assert store.write_aggregates(tenants, computed_at=T0, engine="zscore") == 1
    assert store.read_aggregates("acme") == [*tenants, *clusters, *nodes]
    fleet = pipeline.run(results)
    assert store.write_aggregates(fleet, computed_at=T0 + MIN, engine="zscore") == 4
    assert store.read_aggregates("acme") == [*fleet.tenants, *fleet.clusters, *fleet.nodes]


def test_aggregates_wrong_type_gives_a_short_type_error(store: SQLiteMetricStore) -> None:
    """A list of levels (instead of one level) is a short TypeError that says what to pass."""
    nodes = AggregationPipeline().aggregate_nodes(
        [_result(f"n-{i}", 0, 0.5, AnomalyType.SPIKE) for i in range(500)]
    )
    with pytest.raises(TypeError) as info:
        store.write_aggregates([nodes], computed_at=T0, engine="zscore")  # type: ignore[list-item]
    message = str(info.value)
    assert message.startswith(
        "SQLiteMetricStore.write_aggregates: scores[0] must be an AggregatedAnomalyScore, got [Agg"
    )
    assert "chain them" in message
    assert len(message) < 400
    with pytest.raises(TypeError, match="scores must be an iterable of AggregatedAnomalyScore"):
        store.write_aggregates(nodes[0], computed_at=T0, engine="zscore")  # type: ignore[arg-type]


def test_aggregate_snapshots_by_engine(store: SQLiteMetricStore) -> None:
    """Snapshots are per computed_at and engine; the default read is the latest (of one engine)."""
    snap = [
        AggregatedAnomalyScore("acme", "c-1", "n-1", AggregationStrategy.MAX, 0.9, 2, 1),
        AggregatedAnomalyScore("acme", "c-1", None, AggregationStrategy.MAX, 0.9, 2, 1),
        AggregatedAnomalyScore("acme", None, None, AggregationStrategy.MAX, 0.9, 2, 1),
    ]
    assert store.read_aggregates("acme") == []
    store.write_aggregates(snap, computed_at=T0, engine="zscore")
    later = [AggregatedAnomalyScore("acme", None, None, AggregationStrategy.MAX, 0.2, 2, 0)]
    store.write_aggregates(later, computed_at=T0 + MIN, engine="combined")
    assert store.aggregate_snapshots("acme") == [T0, T0 + MIN]
    assert store.aggregate_snapshots("acme", engine="zscore") == [T0]
    assert store.read_aggregates("acme") == later
    assert store.read_aggregates("acme", engine="zscore") == [snap[2], snap[1], snap[0]]
    assert store.read_aggregates("acme", computed_at=T0) == [snap[2], snap[1], snap[0]]
    assert store.read_aggregates("acme", computed_at=T0, engine="combined") == []
    assert store.read_aggregates("other") == []
    with pytest.raises(ValueError, match="computed_at must be a timezone-aware datetime"):
        store.write_aggregates(snap, computed_at=T0.replace(tzinfo=None), engine="zscore")


# -- query plans ------------------------------------------------------------------------------


def _plan(store: SQLiteMetricStore, statement: str, params: dict[str, object]) -> str:
    conn = sqlite3.connect(store.path)
    try:
        return "\n".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + statement, params))
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (
            {"cluster", "node", "metric", "start", "end"},
            r"SEARCH anomaly_results USING PRIMARY KEY \(tenant_id=\? AND cluster_id=\? AND node_id=\? "
            r"AND metric_name=\? AND window_start_us>\? AND window_start_us<\?\)",
        ),
        (
            {"cluster", "node", "metric", "engine"},
            r"SEARCH anomaly_results USING PRIMARY KEY \(tenant_id=\? AND cluster_id=\? AND node_id=\? "
            r"AND metric_name=\?\)",
        ),
        (
            {"cluster", "node"},
            r"SEARCH anomaly_results USING PRIMARY KEY \(tenant_id=\? AND cluster_id=\? AND node_id=\?\)",
        ),
        (
            {"metric", "start"},
            r"SEARCH anomaly_results USING INDEX results_by_metric "
            r"\(tenant_id=\? AND metric_name=\? AND window_start_us>\?\)",
        ),
        (
            {"start", "end"},
            r"SEARCH anomaly_results USING INDEX results_by_time "
            r"\(tenant_id=\? AND window_start_us>\? AND window_start_us<\?\)",
        ),
        (  # (a metric alone: the planner walked the primary key for its ORDER BY, the whole history)
            {"metric"},
            r"SEARCH anomaly_results USING INDEX results_by_metric \(tenant_id=\? AND metric_name=\?\)",
        ),
        (
            {"metric", "engine"},
            r"SEARCH anomaly_results USING INDEX results_by_metric \(tenant_id=\? AND metric_name=\?\)",
        ),
    ],
)
def test_result_reads_seek_an_index(store: SQLiteMetricStore, filters: set[str], expected: str) -> None:
    """EXPLAIN QUERY PLAN: each filtered read seeks the primary key or an index on its columns."""
    params: dict[str, object] = {"tenant": "a", "cluster": "c", "node": "n", "metric": "m", "engine": "e"}
    params.update(start=0, end=1)
    plan = _plan(store, _results_statement(frozenset(filters)), params)
    assert re.search(expected, plan), plan
    assert "SCAN" not in plan


@pytest.mark.parametrize(
    "filters", [{"anomalous_only"}, {"anomalous_only", "start", "end"}, {"anomalous_only", "engine"}]
)
def test_anomalous_reads_seek_the_partial_index(store: SQLiteMetricStore, filters: set[str]) -> None:
    """anomalous_only without a cluster or metric reads the index of the anomalous rows (by time)."""
    params: dict[str, object] = {"tenant": "a", "engine": "e", "start": 0, "end": 1, "anomalous_only": True}
    plan = _plan(store, _results_statement(frozenset(filters)), params)
    bounds = r" AND window_start_us>\? AND window_start_us<\?" if "start" in filters else ""
    expected = rf"SEARCH anomaly_results USING INDEX results_anomalous \(tenant_id=\?{bounds}\)"
    assert re.search(expected, plan), plan
    assert "SCAN" not in plan


def test_anomalous_reads_return_what_a_scan_returns(store: SQLiteMetricStore) -> None:
    """Through the partial index, anomalous_only returns exactly the rows not labelled normal."""
    labels = ["normal", "spike", "normal", "trend", "seasonal", "normal"]
    for engine in ("zscore", "novelty"):
        results = [
            _window(f"c-{k % 2}", f"n-{k % 3}", "cpu", k, 1, 0.1 if label == "normal" else 0.7, label)
            for k, label in enumerate(labels * 3)
        ]
        store.write_results(results, engine=engine)
    for name in (None, "zscore"):
        every = store.read_results("acme", engine=name)  # (by the primary key: no partial index)
        for since, until in ((None, None), (T0 + 4 * MIN, T0 + 13 * MIN)):
            want = [
                r
                for r in every
                if r.anomaly_label is not AnomalyType.NORMAL
                and (since is None or since <= r.window_start)
                and (until is None or r.window_start < until)
            ]
            got = store.read_results("acme", anomalous_only=True, engine=name, start=since, end=until)
            assert want and got == want


def test_latest_results_are_seeks_of_primary_keys(store: SQLiteMetricStore) -> None:
    """read_latest_results seeks the tenant's latest windows of the engine, then each row: no scan."""
    from backend.analytics.store._sink import _LATEST_RESULTS

    plan = _plan(store, _LATEST_RESULTS, {"tenant": "a", "engine": "e"})
    assert re.search(r"SEARCH l USING PRIMARY KEY \(tenant_id=\? AND engine=\?\)", plan), plan
    assert re.search(r"SEARCH r USING PRIMARY KEY \(tenant_id=\? AND cluster_id=\?", plan), plan
    assert "SCAN" not in plan and "TEMP B-TREE" not in plan, plan


def test_node_metric_time_read_needs_no_sort(store: SQLiteMetricStore) -> None:
    """The dashboard read (cluster, node, metric, time) comes back in key order: no sort step."""
    params = {"tenant": "a", "cluster": "c", "node": "n", "metric": "m", "start": 0, "end": 1}
    plan = _plan(store, _results_statement(frozenset(params) - {"tenant"}), params)
    assert "TEMP B-TREE" not in plan, plan


def test_latest_aggregate_snapshot_of_an_engine_is_a_seek(store: SQLiteMetricStore) -> None:
    """The latest snapshot of one engine is found through the (tenant, engine, computed_at) index."""
    from backend.analytics.store._sink import _LATEST_SNAPSHOT

    plan = _plan(store, _LATEST_SNAPSHOT[True], {"tenant": "a", "engine": "e"})
    assert "aggregates_by_engine" in plan and "SCAN" not in plan, plan


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batches=st.lists(
        st.lists(
            st.tuples(
                st.sampled_from(["n-1", "n-2"]),
                st.sampled_from(["cpu", "mem"]),
                st.integers(0, 30),
                st.integers(0, 12),
                st.sampled_from(["zscore", "novelty"]),
                st.sampled_from([0.3, 0.8]),
            ),
            max_size=8,
        ),
        max_size=8,
    )
)
def test_the_latest_results_are_each_series_latest_of_the_engine(
    store: SQLiteMetricStore, batches: list[list[tuple[str, str, int, int, str, float]]]
) -> None:
    """read_latest_results keeps, per series, the largest window_end then window_start, of one engine.

    Batches of several series and windows in any order, windows written again with another score,
    older windows written after newer ones: the answer is what reading every result and keeping each
    series' latest gives, as the window's last write left it.
    """
    for table in ("anomaly_results", "latest_results"):
        store._conn().execute(f"DELETE FROM {table}")
    for batch in batches:
        for engine in ("zscore", "novelty"):
            results = [
                _window("c-1", node, metric, start, length, score, "spike" if score >= 0.5 else "normal")
                for node, metric, start, length, name, score in batch
                if name == engine
            ]
            store.write_results(results, engine=engine)
    for engine in ("zscore", "novelty"):
        every = store.read_results("acme", engine=engine)
        latest: dict[tuple[str, str], AnomalyResult] = {}
        for r in every:
            have = latest.get((r.node_id, r.metric_name))
            if have is None or (r.window_end, r.window_start) > (have.window_end, have.window_start):
                latest[(r.node_id, r.metric_name)] = r
        assert store.read_latest_results("acme", engine=engine) == [latest[k] for k in sorted(latest)]
