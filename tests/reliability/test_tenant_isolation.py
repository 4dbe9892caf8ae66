"""Tenant isolation with hostile ids, through every read path of the store.

Tenants, clusters, nodes, metrics and engines are named from one pool of
hostile strings (quotes, ``%`` and ``_`` (LIKE wildcards), backslashes, SQL
fragments, case and whitespace variants, NUL, fullwidth and combining
characters, right-to-left overrides, emoji, CJK, 1000-character ids) plus
random Unicode, so the same cluster, node and metric names recur in many
tenants. Each tenant gets its own points (rolled up in part), results and
aggregate snapshots, every value marked with the tenant's number.

Then, for every tenant, every read path (``list_series`` at each level,
``get_metric_series``, ``get_rollup_buckets``, ``read_results`` with each
filter, ``result_engines``, ``aggregate_snapshots``, ``read_aggregates``)
returns exactly that tenant's data; an id that was never written (a
wildcard, a prefix, a case variant of a real one) sees nothing; and an id
that no database can hold (a lone surrogate) is a ``ValueError`` naming the
argument.

Default: the pool's 29 hostile ids plus 10 random ones; ``--long``: plus 150.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest

from backend.analytics import AggregatedAnomalyScore, AnomalyResult, AnomalyType
from backend.analytics.store import RetentionPolicy, SeriesKey, SeriesNotFoundError, SQLiteMetricStore
from tests.reliability import scale
from tests.reliability.hostile import HOSTILE_IDS

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
EARLY, FAR = datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc)
R = TypeVar("R")
ALPHABET = "aA_%'\"\\ -;*?\x00é\u0301\u202e租🦀ｃ/"


def random_ids(rng: random.Random, count: int) -> list[str]:
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 6))) for _ in range(count)]


def test_no_read_path_crosses_tenants(tmp_path: Path) -> None:
    rng = random.Random(14)
    pool = list(dict.fromkeys(HOSTILE_IDS + random_ids(rng, scale.size(10, 150))))
    tenants = pool
    policy = RetentionPolicy(hot_retention=timedelta(hours=1), rollup_interval=timedelta(minutes=1))
    store = SQLiteMetricStore(tmp_path / "tenants.db", policy=policy)
    queries = [0]

    def q(fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        queries[0] += 1
        return fn(*args, **kwargs)

    series: dict[str, list[SeriesKey]] = {}
    results: dict[str, list[tuple[str, AnomalyResult]]] = defaultdict(list)
    snapshots: dict[str, tuple[datetime, list[AggregatedAnomalyScore]]] = {}
    for i, tenant in enumerate(tenants):
        keys = sorted(
            {SeriesKey(tenant, rng.choice(pool), rng.choice(pool), rng.choice(pool)) for _ in range(3)},
            key=lambda k: (k.cluster_id, k.node_id, k.metric_name),
        )
        series[tenant] = keys
        for key in keys:
            # Two hours of points a minute apart, all equal to i: the first hour rolls up below.
            ts = [T0 + timedelta(minutes=j) for j in range(120)]
            store.write_points(*key, ts, [float(i)] * len(ts))
            engine = rng.choice(pool)
            score = (i % 100) / 100
            label = AnomalyType.NORMAL if score < 0.5 else AnomalyType.SPIKE
            r = AnomalyResult(*key, ts[0], ts[9], score, label, None, f"tenant {i}")
            store.write_results([r], engine=engine)
            results[tenant].append((engine, r))
        at = T0 + timedelta(seconds=i)
        node = keys[0]
        scores = [
            AggregatedAnomalyScore(tenant, node.cluster_id, node.node_id, "max", (i % 100) / 100, i, 0),
            AggregatedAnomalyScore(tenant, None, None, "max", (i % 100) / 100, i, 0),
        ]
        store.write_aggregates(scores, computed_at=at, engine="agg")
        snapshots[tenant] = (at, scores)
    store.apply_retention(T0 + timedelta(hours=2))  # the first hour of every series goes cold

    for i, tenant in enumerate(tenants):
        keys = series[tenant]
        assert q(store.list_series, tenant) == keys
        for key in keys:
            assert set(q(store.list_series, tenant, key.cluster_id)) == {
                k for k in keys if k.cluster_id == key.cluster_id
            }
            assert set(q(store.list_series, tenant, key.cluster_id, key.node_id)) == {
                k for k in keys if (k.cluster_id, k.node_id) == (key.cluster_id, key.node_id)
            }
            s = q(store.get_metric_series, *key, EARLY, FAR)
            assert s.ids == tuple(key) and len(s) == 120 and set(s.values.tolist()) == {float(i)}
            buckets = q(store.get_rollup_buckets, *key, EARLY, FAR)
            assert len(buckets) == 60 and {(b.min, b.max, b.count) for b in buckets} == {(i, i, 1)}
        mine = results[tenant]
        expected_all = {(e, r) for e, r in mine}
        got_all = q(store.read_results, tenant)
        assert len(got_all) == len(expected_all) and {r.tenant_id for r in got_all} == {tenant}
        assert {r.explanation for r in got_all} == {f"tenant {i}"}
        for engine, r in mine:
            for filters in (
                {"cluster_id": r.cluster_id},
                {"cluster_id": r.cluster_id, "node_id": r.node_id},
                {"cluster_id": r.cluster_id, "node_id": r.node_id, "metric_name": r.metric_name},
                {"metric_name": r.metric_name},
                {"node_id": r.node_id},
                {"engine": engine},
                {"start": r.window_start, "end": r.window_end + timedelta(seconds=1)},
                {"anomalous_only": True},
            ):
                got = q(store.read_results, tenant, **filters)
                assert all(g.tenant_id == tenant and g.explanation == f"tenant {i}" for g in got), filters
                if "anomalous_only" not in filters or r.is_anomalous:
                    assert r in got, filters
        assert q(store.result_engines, tenant) == sorted({e for e, _ in mine})
        at, scores = snapshots[tenant]
        assert q(store.aggregate_snapshots, tenant) == [at]
        assert sorted(map(repr, q(store.read_aggregates, tenant))) == sorted(map(repr, scores))
        assert sorted(map(repr, q(store.read_aggregates, tenant, computed_at=at, engine="agg"))) == sorted(
            map(repr, scores)
        )

    # Ids never written as tenants: wildcards, prefixes and variants of real ones see nothing.
    written = set(tenants)
    strangers = [
        x
        for x in ["%", "_", "%%", "*", "acm", "acme%", "ACME_", "a%", "' OR 1=1 --", "acmé "]
        if x not in written
    ]
    strangers += [t + "%" for t in tenants[:20] if t + "%" not in written]
    strangers += [t.upper() for t in tenants[:20] if t.upper() not in written]
    for stranger in strangers:
        assert q(store.list_series, stranger) == []
        assert q(store.read_results, stranger) == []
        assert q(store.result_engines, stranger) == []
        assert q(store.aggregate_snapshots, stranger) == []
        assert q(store.read_aggregates, stranger) == []
        some = series[tenants[0]][0]
        with pytest.raises(SeriesNotFoundError):
            q(store.get_metric_series, stranger, some.cluster_id, some.node_id, some.metric_name, EARLY, FAR)

    # An id no database can hold: a clean ValueError on every path, naming the argument.
    calls: list[tuple[Callable[..., object], tuple[object, ...]]] = [
        (store.list_series, ("t\ud800",)),
        (store.read_results, ("t\ud800",)),
        (store.read_aggregates, ("t\ud800",)),
        (store.get_metric_series, ("t", "c\ud800", "n", "m", EARLY, FAR)),
        (store.write_points, ("t", "c", "n\udcff", "m", [T0], [1.0])),
    ]
    for call, args in calls:
        with pytest.raises(ValueError, match=r"(tenant_id|cluster_id|node_id) must be Unicode text"):
            q(call, *args)
    counts = store.tier_counts()
    assert counts["hot"] + counts["cold"] == 120 * sum(map(len, series.values()))
    store.close()
    scale.record(
        "tenant_isolation",
        tenants=len(tenants),
        series=sum(map(len, series.values())),
        strangers=len(strangers),
        queries=queries[0],
        leaks=0,
    )
