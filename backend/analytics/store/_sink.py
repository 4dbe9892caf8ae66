"""The result sink half of the SQLite store: anomaly results and aggregated scores.

:class:`_SQLiteResultSink` implements :class:`~backend.analytics.store.ResultSink`
on the tables ``anomaly_results`` and ``aggregated_scores`` (see
:mod:`backend.analytics.store._schema`). Every row records the engine that
produced it. Results are keyed by (series ids, window_start, window_end,
engine) and aggregates by (tenant, computed_at, cluster, node, strategy,
engine); writing a key again replaces the row (last write wins), so two
engines' verdicts on the same window coexist.

Every query filters on ``tenant_id`` first. A read names only the filters it
was given (one of the statements built below from constant fragments), so
SQLite can seek the primary key or an index on the given columns: with a
cluster (and node, and metric), a metric, a time range, or ``anomalous_only``
(a partial index of the rows not labelled normal), its cost grows with the
rows returned, not with the tenant's history. Each series' latest result of an
engine is kept in ``latest_results`` as results are written, so reading them
costs the number of series. A filter on ``engine`` alone, or on ``node_id``
without its ``cluster_id``, reads the tenant's rows (an index on them would
cost every write).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import cache
from typing import Any

from .._kinds import AnomalyType
from .._sequences import _MAX_US, _MIN_US
from .._validate import brief, check_aware_datetime, check_bool, check_id, check_optional_id, fail_type
from ..aggregation import FleetScores
from ..types import AggregatedAnomalyScore, AnomalyResult, datetime_to_epoch_us, epoch_us_to_datetime
from ._connection import _SQLiteConnections, wraps_sqlite_errors

__all__: list[str] = []

_UPSERT_RESULT = (
    "INSERT INTO anomaly_results (tenant_id, cluster_id, node_id, metric_name, window_start_us, "
    "window_end_us, engine, anomaly_score, anomaly_label, magnitude, explanation) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (tenant_id, cluster_id, node_id, metric_name, window_start_us, window_end_us, engine) "
    "DO UPDATE SET anomaly_score = excluded.anomaly_score, anomaly_label = excluded.anomaly_label, "
    "magnitude = excluded.magnitude, explanation = excluded.explanation"
)
_BEFORE = (_MIN_US - 1, _MIN_US - 1)  # before every (window_end_us, window_start_us)
_INSERT_RESULT_ENGINE = "INSERT OR IGNORE INTO result_engines (tenant_id, engine) VALUES (?, ?)"
# A series' latest window of an engine moves only forward: to a larger end, or the same end and a
# larger start (a window written again, or an older one written late, leaves it where it is).
_UPSERT_LATEST = (
    "INSERT INTO latest_results (tenant_id, engine, cluster_id, node_id, metric_name, window_end_us, "
    "window_start_us) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (tenant_id, engine, cluster_id, node_id, metric_name) DO UPDATE SET "
    "window_end_us = excluded.window_end_us, window_start_us = excluded.window_start_us "
    "WHERE (excluded.window_end_us, excluded.window_start_us) "
    "> (latest_results.window_end_us, latest_results.window_start_us)"
)
_RESULT_ENGINES = "SELECT engine FROM result_engines WHERE tenant_id = ? ORDER BY engine"

_SELECT_RESULTS = (
    "SELECT tenant_id, cluster_id, node_id, metric_name, window_start_us, window_end_us, "
    "anomaly_score, anomaly_label, magnitude, explanation FROM anomaly_results "
)
# A time range with neither cluster nor metric names the time index: left to itself, SQLite
# prefers to walk the whole tenant in primary-key order to save the final sort.
_BY_TIME = "INDEXED BY results_by_time "
_BY_METRIC = "INDEXED BY results_by_metric "
# (a partial index: SQLite may use it because the read's conditions include its WHERE term verbatim)
_BY_ANOMALOUS = "INDEXED BY results_anomalous "
_TENANT = "WHERE tenant_id = :tenant"
# filter name -> its SQL condition; a read appends only the conditions it was given.
_RESULT_FILTERS = {
    "cluster": " AND cluster_id = :cluster",
    "node": " AND node_id = :node",
    "metric": " AND metric_name = :metric",
    "engine": " AND engine = :engine",
    "start": " AND window_start_us >= :start",
    "end": " AND window_start_us < :end",
    "anomalous_only": " AND anomaly_label != 'normal'",
}
_RESULTS_ORDER = " ORDER BY cluster_id, node_id, metric_name, window_start_us, window_end_us, engine"
# Each series' latest result of one engine (the largest window_end, then window_start): the rows that
# latest_results points at, each found by primary key (832,000 results of 32 series: 32 seeks).
_LATEST_RESULTS = (
    "SELECT r.tenant_id, r.cluster_id, r.node_id, r.metric_name, r.window_start_us, r.window_end_us, "
    "r.anomaly_score, r.anomaly_label, r.magnitude, r.explanation "
    "FROM latest_results AS l JOIN anomaly_results AS r ON r.tenant_id = l.tenant_id "
    "AND r.cluster_id = l.cluster_id AND r.node_id = l.node_id AND r.metric_name = l.metric_name "
    "AND r.window_start_us = l.window_start_us AND r.window_end_us = l.window_end_us "
    "AND r.engine = l.engine "
    "WHERE l.tenant_id = :tenant AND l.engine = :engine "
    "ORDER BY l.cluster_id, l.node_id, l.metric_name"
)

_UPSERT_AGGREGATE = (
    "INSERT INTO aggregated_scores (tenant_id, computed_at_us, cluster_id, node_id, "
    "aggregation_strategy, engine, aggregate_score, num_metrics_analyzed, num_anomalies_detected) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (tenant_id, computed_at_us, cluster_id, node_id, aggregation_strategy, engine) "
    "DO UPDATE SET aggregate_score = excluded.aggregate_score, "
    "num_metrics_analyzed = excluded.num_metrics_analyzed, "
    "num_anomalies_detected = excluded.num_anomalies_detected"
)
_LATEST_SNAPSHOT = {
    False: "SELECT MAX(computed_at_us) FROM aggregated_scores WHERE tenant_id = :tenant",
    True: "SELECT MAX(computed_at_us) FROM aggregated_scores WHERE tenant_id = :tenant AND engine = :engine",
}
_SNAPSHOTS = {
    False: "SELECT DISTINCT computed_at_us FROM aggregated_scores WHERE tenant_id = :tenant "
    "ORDER BY computed_at_us",
    True: "SELECT DISTINCT computed_at_us FROM aggregated_scores WHERE tenant_id = :tenant "
    "AND engine = :engine ORDER BY computed_at_us",
}
_SELECT_AGGREGATES = {
    False: "SELECT tenant_id, cluster_id, node_id, aggregation_strategy, aggregate_score, "
    "num_metrics_analyzed, num_anomalies_detected FROM aggregated_scores "
    "WHERE tenant_id = :tenant AND computed_at_us = :at "
    "ORDER BY cluster_id, node_id, aggregation_strategy, engine",
    True: "SELECT tenant_id, cluster_id, node_id, aggregation_strategy, aggregate_score, "
    "num_metrics_analyzed, num_anomalies_detected FROM aggregated_scores "
    "WHERE tenant_id = :tenant AND computed_at_us = :at AND engine = :engine "
    "ORDER BY cluster_id, node_id, aggregation_strategy",
}


@cache
def _results_statement(filters: frozenset[str]) -> str:
    """The results query with exactly the conditions in ``filters`` (keys of ``_RESULT_FILTERS``)."""
    conditions = "".join(sql for name, sql in _RESULT_FILTERS.items() if name in filters)
    tenant_wide = not filters & {"cluster", "metric"}
    # A metric without its cluster: the metric's index (SQLite's planner otherwise walks the primary key
    # for its ORDER BY, reading the tenant's whole history).
    by_metric = "metric" in filters and "cluster" not in filters
    if tenant_wide and "anomalous_only" in filters:
        index = _BY_ANOMALOUS  # (with or without a time range: the anomalous rows, by time)
    elif tenant_wide and filters & {"start", "end"}:
        index = _BY_TIME
    else:
        index = _BY_METRIC if by_metric else ""
    return "".join((_SELECT_RESULTS, index, _TENANT, conditions, _RESULTS_ORDER))


def _to_datetime(owner: str, what: str, us: int) -> datetime:
    if not _MIN_US <= us <= _MAX_US:
        raise ValueError(
            f"{owner}: a stored {what} must lie within years 1..9999, got {us} microseconds since "
            "the epoch (written by a version that did not check the range)"
        )
    return epoch_us_to_datetime(us)


def _results_of(owner: str, rows: list[Any]) -> list[AnomalyResult]:
    """Stored result rows (the columns of ``_SELECT_RESULTS``) as results; a row that is not one is named."""
    out = []
    for t, c, n, m, ws, we, score, label, mag, text in rows:
        start = _to_datetime(owner, "window_start", ws)
        end = _to_datetime(owner, "window_end", we)
        try:
            out.append(AnomalyResult(t, c, n, m, start, end, score, AnomalyType(label), mag, text))
        except ValueError as exc:
            raise ValueError(
                f"{owner}: the stored result of {'/'.join((t, c, n, m))} at {start.isoformat()} is not a "
                f"valid AnomalyResult ({exc}); a row written outside this library, or by an engine that "
                "alarmed below 0.5 (before 0.2.0), cannot be read as it is"
            ) from exc
    return out


class _SQLiteResultSink(_SQLiteConnections):
    """``write_results``/``read_results`` and ``write_aggregates``/``read_aggregates``."""

    @wraps_sqlite_errors
    def write_results(self, results: Iterable[AnomalyResult], *, engine: str) -> int:
        """Store ``results`` of engine ``engine`` atomically; return how many were written.

        A result with the same series ids, window and engine replaces the
        stored one; results of different engines on the same window coexist.
        ``engine`` is the name the engine is registered under (its ``name``).
        Each series' latest window of the engine (what
        :meth:`read_latest_results` reads) moves forward in the same
        transaction.
        """
        owner = "SQLiteMetricStore.write_results"
        check_id(owner, "engine", engine)
        if isinstance(results, AnomalyResult) or not isinstance(results, Iterable):
            fail_type(owner, "results", "an iterable of AnomalyResult", results)
        # (tenant, cluster, node, metric) -> the largest (window_end_us, window_start_us) written
        latest: dict[tuple[str, str, str, str], tuple[int, int]] = {}
        count = 0

        def rows() -> Iterator[tuple[Any, ...]]:
            nonlocal count
            for i, r in enumerate(results):
                if not isinstance(r, AnomalyResult):
                    fail_type(owner, f"results[{i}]", "an AnomalyResult", r)
                count += 1
                key = (r.tenant_id, r.cluster_id, r.node_id, r.metric_name)
                start_us = datetime_to_epoch_us(r.window_start)
                at = (datetime_to_epoch_us(r.window_end), start_us)
                if at > latest.get(key, _BEFORE):
                    latest[key] = at
                yield (
                    *key,
                    start_us,
                    at[0],
                    engine,
                    r.anomaly_score,
                    r.anomaly_label.value,
                    r.magnitude,
                    r.explanation,
                )

        with self._transaction() as conn:
            conn.executemany(_UPSERT_RESULT, rows())
            ends = ((t, engine, c, n, m, e, s) for (t, c, n, m), (e, s) in latest.items())
            conn.executemany(_UPSERT_LATEST, ends)
            tenants = sorted({key[0] for key in latest})
            conn.executemany(_INSERT_RESULT_ENGINE, ((tenant, engine) for tenant in tenants))
        return count

    @wraps_sqlite_errors
    def result_engines(self, tenant_id: str) -> list[str]:
        """The names of the engines the tenant has stored results from, sorted."""
        check_id("SQLiteMetricStore.result_engines", "tenant_id", tenant_id)
        return [row[0] for row in self._conn().execute(_RESULT_ENGINES, (tenant_id,)).fetchall()]

    @wraps_sqlite_errors
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
        engine: str | None = None,
    ) -> list[AnomalyResult]:
        """The tenant's results with ``start <= window_start < end`` (either bound optional).

        ``engine=None`` returns every engine's results; a name returns only
        that engine's. Ordered by (cluster, node, metric, window_start,
        window_end, engine); datetimes come back in UTC (equal instants to what
        was written). A filter on cluster (and node, and metric) and time is a
        seek of the primary key; a metric alone, or a time range alone, seeks
        an index; ``anomalous_only`` without a cluster or metric reads only the
        tenant's anomalous rows (of the time range, if given), by a partial
        index; a ``node_id`` without its ``cluster_id``, and ``engine`` alone,
        read the whole tenant (node ids are unique only within a cluster).
        """
        owner = "SQLiteMetricStore.read_results"
        check_id(owner, "tenant_id", tenant_id)
        params: dict[str, Any] = {"tenant": tenant_id}
        for key, name, value in (
            ("cluster", "cluster_id", cluster_id),
            ("node", "node_id", node_id),
            ("metric", "metric_name", metric_name),
            ("engine", "engine", engine),
        ):
            if check_optional_id(owner, name, value) is not None:
                params[key] = value
        for key, bound in (("start", start), ("end", end)):
            if bound is not None:
                params[key] = datetime_to_epoch_us(check_aware_datetime(owner, key, bound))
        if "start" in params and "end" in params and params["start"] > params["end"]:
            raise ValueError(f"{owner}: start must be <= end, got start={start} > end={end}")
        if check_bool(owner, "anomalous_only", anomalous_only):
            params["anomalous_only"] = True
        statement = _results_statement(frozenset(params) - {"tenant"})
        return _results_of(owner, self._conn().execute(statement, params).fetchall())

    @wraps_sqlite_errors
    def read_latest_results(self, tenant_id: str, *, engine: str) -> list[AnomalyResult]:
        """Each series' latest result of ``engine`` (the largest ``window_end``, then ``window_start``).

        What ``export`` serves at each scrape. ``write_results`` keeps each
        series' latest window of each engine beside the results, so this reads
        one row per series whatever the history kept (832,000 results of 32
        series: a few milliseconds). Ordered by (cluster, node, metric).
        """
        owner = "SQLiteMetricStore.read_latest_results"
        check_id(owner, "tenant_id", tenant_id)
        check_id(owner, "engine", engine)
        rows = self._conn().execute(_LATEST_RESULTS, {"tenant": tenant_id, "engine": engine}).fetchall()
        return _results_of(owner, rows)

    @wraps_sqlite_errors
    def write_aggregates(
        self,
        scores: Iterable[AggregatedAnomalyScore] | FleetScores,
        *,
        computed_at: datetime,
        engine: str,
    ) -> int:
        """Store one snapshot of aggregated scores taken at ``computed_at``, atomically.

        ``scores`` is what :class:`~backend.analytics.AggregationPipeline`
        returns: the list of ``aggregate_nodes``, ``aggregate_clusters`` or
        ``aggregate_tenants`` (or several of them chained), or the
        :class:`~backend.analytics.aggregation.FleetScores` of ``run`` (all
        three levels). ``engine`` names the engine whose results were
        aggregated. The key is (tenant, computed_at, cluster, node, strategy,
        engine); writing the same key again replaces the row (last write wins).
        """
        owner = "SQLiteMetricStore.write_aggregates"
        at_us = datetime_to_epoch_us(check_aware_datetime(owner, "computed_at", computed_at))
        check_id(owner, "engine", engine)
        if isinstance(scores, FleetScores):
            scores = [*scores.nodes, *scores.clusters, *scores.tenants]
        elif isinstance(scores, AggregatedAnomalyScore) or not isinstance(scores, Iterable):
            fail_type(owner, "scores", "an iterable of AggregatedAnomalyScore or a FleetScores", scores)
        items: Iterable[object] = scores  # checked item by item below
        count = 0

        def rows() -> Iterator[tuple[Any, ...]]:
            nonlocal count
            for i, s in enumerate(items):
                if not isinstance(s, AggregatedAnomalyScore):
                    hint = (
                        "; pass one level's list, or chain them (nodes + clusters + tenants)"
                        if isinstance(s, (list, tuple))
                        else ""
                    )
                    raise TypeError(
                        f"{owner}: scores[{i}] must be an AggregatedAnomalyScore, "
                        f"got {brief(s)} ({type(s).__name__}){hint}"
                    )
                count += 1
                yield (
                    s.tenant_id,
                    at_us,
                    s.cluster_id or "",
                    s.node_id or "",
                    s.aggregation_strategy.value,
                    engine,
                    s.aggregate_score,
                    s.num_metrics_analyzed,
                    s.num_anomalies_detected,
                )

        with self._transaction() as conn:
            conn.executemany(_UPSERT_AGGREGATE, rows())
        return count

    @wraps_sqlite_errors
    def aggregate_snapshots(self, tenant_id: str, *, engine: str | None = None) -> list[datetime]:
        """The ``computed_at`` times of the tenant's stored snapshots (of one engine), ascending."""
        owner = "SQLiteMetricStore.aggregate_snapshots"
        check_id(owner, "tenant_id", tenant_id)
        by_engine = check_optional_id(owner, "engine", engine) is not None
        params = {"tenant": tenant_id, "engine": engine}
        rows = self._conn().execute(_SNAPSHOTS[by_engine], params).fetchall()
        return [_to_datetime(owner, "computed_at", row[0]) for row in rows]

    @wraps_sqlite_errors
    def read_aggregates(
        self, tenant_id: str, *, computed_at: datetime | None = None, engine: str | None = None
    ) -> list[AggregatedAnomalyScore]:
        """The tenant's snapshot at ``computed_at`` (default: the latest; ``[]`` if none).

        ``engine=None`` reads every engine's rows of that snapshot (the latest
        of any engine); a name reads only that engine's (its latest snapshot).
        Ordered tenant level first, then each cluster followed by its nodes (by
        cluster id, node id, strategy, engine).
        """
        owner = "SQLiteMetricStore.read_aggregates"
        check_id(owner, "tenant_id", tenant_id)
        by_engine = check_optional_id(owner, "engine", engine) is not None
        params: dict[str, Any] = {"tenant": tenant_id, "engine": engine}
        conn = self._conn()
        if computed_at is None:
            params["at"] = conn.execute(_LATEST_SNAPSHOT[by_engine], params).fetchone()[0]
            if params["at"] is None:
                return []
        else:
            params["at"] = datetime_to_epoch_us(check_aware_datetime(owner, "computed_at", computed_at))
        rows = conn.execute(_SELECT_AGGREGATES[by_engine], params).fetchall()
        return [
            AggregatedAnomalyScore(t, c or None, n or None, strategy, score, n_metrics, n_anomalies)
            for t, c, n, strategy, score, n_metrics, n_anomalies in rows
        ]
