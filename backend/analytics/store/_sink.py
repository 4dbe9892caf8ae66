"""The result sink half of the SQLite store: anomaly results and aggregated scores.

:class:`_SQLiteResultSink` implements :class:`~backend.analytics.store.ResultSink`
on the tables ``anomaly_results`` and ``aggregated_scores`` (see
:mod:`backend.analytics.store._schema`). Results are keyed by (series ids,
window_start, window_end) and aggregates by (tenant, computed_at, cluster, node,
strategy); writing a key again replaces the row (last write wins). Every query
filters on ``tenant_id`` first.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from .._validate import check_aware_datetime, check_id, check_optional_id, fail_type
from ..types import (
    AggregatedAnomalyScore,
    AnomalyResult,
    datetime_to_epoch_us,
    epoch_us_to_datetime,
)
from ._connection import _SQLiteConnections

__all__: list[str] = []

_UPSERT_RESULT = (
    "INSERT INTO anomaly_results (tenant_id, cluster_id, node_id, metric_name, window_start_us, "
    "window_end_us, anomaly_score, anomaly_label, magnitude, explanation) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (tenant_id, cluster_id, node_id, metric_name, window_start_us, window_end_us) "
    "DO UPDATE SET anomaly_score = excluded.anomaly_score, anomaly_label = excluded.anomaly_label, "
    "magnitude = excluded.magnitude, explanation = excluded.explanation"
)
_SELECT_RESULTS = (
    "SELECT tenant_id, cluster_id, node_id, metric_name, window_start_us, window_end_us, "
    "anomaly_score, anomaly_label, magnitude, explanation FROM anomaly_results "
    "WHERE tenant_id = :tenant "
    "AND (:cluster IS NULL OR cluster_id = :cluster) "
    "AND (:node IS NULL OR node_id = :node) "
    "AND (:metric IS NULL OR metric_name = :metric) "
    "AND (:start IS NULL OR window_start_us >= :start) "
    "AND (:end IS NULL OR window_start_us < :end) "
    "AND (:anomalous_only = 0 OR anomaly_label != 'normal') "
    "ORDER BY cluster_id, node_id, metric_name, window_start_us, window_end_us"
)
_UPSERT_AGGREGATE = (
    "INSERT INTO aggregated_scores (tenant_id, computed_at_us, cluster_id, node_id, "
    "aggregation_strategy, aggregate_score, num_metrics_analyzed, num_anomalies_detected) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (tenant_id, computed_at_us, cluster_id, node_id, aggregation_strategy) "
    "DO UPDATE SET aggregate_score = excluded.aggregate_score, "
    "num_metrics_analyzed = excluded.num_metrics_analyzed, "
    "num_anomalies_detected = excluded.num_anomalies_detected"
)
_LATEST_SNAPSHOT = "SELECT MAX(computed_at_us) FROM aggregated_scores WHERE tenant_id = ?"
_SNAPSHOTS = (
    "SELECT DISTINCT computed_at_us FROM aggregated_scores WHERE tenant_id = ? ORDER BY computed_at_us"
)
_SELECT_AGGREGATES = (
    "SELECT tenant_id, cluster_id, node_id, aggregation_strategy, aggregate_score, "
    "num_metrics_analyzed, num_anomalies_detected FROM aggregated_scores "
    "WHERE tenant_id = ? AND computed_at_us = ? ORDER BY cluster_id, node_id, aggregation_strategy"
)


class _SQLiteResultSink(_SQLiteConnections):
    """``write_results``/``read_results`` and ``write_aggregates``/``read_aggregates``."""

    def write_results(self, results: Iterable[AnomalyResult]) -> int:
        """Store results atomically; a result with the same series ids and window replaces the old one."""
        owner = "SQLiteMetricStore.write_results"
        if isinstance(results, AnomalyResult) or not isinstance(results, Iterable):
            fail_type(owner, "results", "an iterable of AnomalyResult", results)
        count = 0
        with self._transaction() as conn:
            for i, r in enumerate(results):
                if not isinstance(r, AnomalyResult):
                    raise TypeError(
                        f"{owner}: results[{i}] must be an AnomalyResult, got {r!r} ({type(r).__name__})"
                    )
                conn.execute(
                    _UPSERT_RESULT,
                    (
                        r.tenant_id,
                        r.cluster_id,
                        r.node_id,
                        r.metric_name,
                        datetime_to_epoch_us(r.window_start),
                        datetime_to_epoch_us(r.window_end),
                        r.anomaly_score,
                        r.anomaly_label.value,
                        r.magnitude,
                        r.explanation,
                    ),
                )
                count += 1
        return count

    def read_results(
        self,
        tenant_id: str,
        *,
        cluster_id: str | None = None,
        node_id: str | None = None,
        metric_name: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        anomalous_only: bool = False,
    ) -> list[AnomalyResult]:
        """The tenant's results with ``start <= window_start < end`` (either bound optional).

        Ordered by (cluster, node, metric, window_start, window_end); datetimes
        come back in UTC (equal instants to what was written).
        """
        owner = "SQLiteMetricStore.read_results"
        check_id(owner, "tenant_id", tenant_id)
        for name, value in (("cluster_id", cluster_id), ("node_id", node_id), ("metric_name", metric_name)):
            check_optional_id(owner, name, value)
        bounds: dict[str, int | None] = {}
        for name, bound in (("start", start), ("end", end)):
            bounds[name] = (
                None if bound is None else datetime_to_epoch_us(check_aware_datetime(owner, name, bound))
            )
        if not isinstance(anomalous_only, bool):
            fail_type(owner, "anomalous_only", "a bool", anomalous_only)
        params: dict[str, Any] = {
            "tenant": tenant_id,
            "cluster": cluster_id,
            "node": node_id,
            "metric": metric_name,
            "anomalous_only": int(anomalous_only),
            **bounds,
        }
        rows = self._conn().execute(_SELECT_RESULTS, params).fetchall()
        return [
            AnomalyResult(
                t, c, n, m, epoch_us_to_datetime(ws), epoch_us_to_datetime(we), score, label, mag, text
            )
            for t, c, n, m, ws, we, score, label, mag, text in rows
        ]

    def write_aggregates(self, scores: Iterable[AggregatedAnomalyScore], *, computed_at: datetime) -> int:
        """Store one snapshot of aggregated scores taken at ``computed_at``, atomically.

        The key is (tenant, computed_at, cluster, node, strategy); writing the
        same key again replaces the row (last write wins).
        """
        owner = "SQLiteMetricStore.write_aggregates"
        at_us = datetime_to_epoch_us(check_aware_datetime(owner, "computed_at", computed_at))
        if isinstance(scores, AggregatedAnomalyScore) or not isinstance(scores, Iterable):
            fail_type(owner, "scores", "an iterable of AggregatedAnomalyScore", scores)
        count = 0
        with self._transaction() as conn:
            for i, s in enumerate(scores):
                if not isinstance(s, AggregatedAnomalyScore):
                    raise TypeError(
                        f"{owner}: scores[{i}] must be an AggregatedAnomalyScore, got {s!r} "
                        f"({type(s).__name__})"
                    )
                conn.execute(
                    _UPSERT_AGGREGATE,
                    (
                        s.tenant_id,
                        at_us,
                        s.cluster_id or "",
                        s.node_id or "",
                        s.aggregation_strategy.value,
                        s.aggregate_score,
                        s.num_metrics_analyzed,
                        s.num_anomalies_detected,
                    ),
                )
                count += 1
        return count

    def aggregate_snapshots(self, tenant_id: str) -> list[datetime]:
        """The ``computed_at`` times of the tenant's stored snapshots, ascending."""
        check_id("SQLiteMetricStore.aggregate_snapshots", "tenant_id", tenant_id)
        rows = self._conn().execute(_SNAPSHOTS, (tenant_id,)).fetchall()
        return [epoch_us_to_datetime(row[0]) for row in rows]

    def read_aggregates(
        self, tenant_id: str, *, computed_at: datetime | None = None
    ) -> list[AggregatedAnomalyScore]:
        """The tenant's snapshot at ``computed_at`` (default: the latest; ``[]`` if none).

        Ordered tenant level first, then each cluster followed by its nodes
        (by cluster id, node id, strategy).
        """
        owner = "SQLiteMetricStore.read_aggregates"
        check_id(owner, "tenant_id", tenant_id)
        conn = self._conn()
        if computed_at is None:
            at_us = conn.execute(_LATEST_SNAPSHOT, (tenant_id,)).fetchone()[0]
            if at_us is None:
                return []
        else:
            at_us = datetime_to_epoch_us(check_aware_datetime(owner, "computed_at", computed_at))
        rows = conn.execute(_SELECT_AGGREGATES, (tenant_id, at_us)).fetchall()
        return [
            AggregatedAnomalyScore(t, c or None, n or None, strategy, score, n_metrics, n_anomalies)
            for t, c, n, strategy, score, n_metrics, n_anomalies in rows
        ]
