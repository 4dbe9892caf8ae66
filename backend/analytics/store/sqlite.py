"""``SQLiteMetricStore``: the reference ``MetricStore`` and ``ResultSink`` on stdlib ``sqlite3``.

Schema (one database file, WAL journal)::

    series         (series_id INTEGER PRIMARY KEY, tenant_id, cluster_id, node_id, metric_name,
                    metadata JSON)            UNIQUE (tenant_id, cluster_id, node_id, metric_name)
    hot_points     (series_id, ts_us, value)                 PRIMARY KEY (series_id, ts_us)
    cold_buckets   (series_id, bucket_start_us, mean, min, max, count)
                                                             PRIMARY KEY (series_id, bucket_start_us)
    anomaly_results, aggregated_scores, meta

Timestamps are integer microseconds since 1970-01-01T00:00:00Z. The point
tables are ``WITHOUT ROWID`` tables clustered on their primary key, so a range
query on one series is a B-tree seek plus a scan of exactly the rows returned:
its cost grows with the points returned, not with the size of the database.
The retention policy (hot tier, cold tier, horizon) is described in
:mod:`backend.analytics.store.retention`.

Guarantees:

* **Tenant isolation**: a series is found only through its full key, whose
  first part is ``tenant_id``; every query on results and aggregates filters on
  ``tenant_id``.
* **Atomic writes**: each write call is one ``BEGIN IMMEDIATE`` ... ``COMMIT``
  transaction; any error inside it rolls the whole call back.
* **Idempotent writes**: points are keyed by ``(series, timestamp)``; writing a
  point again replaces its value (last write wins), never duplicates it.
  Results are keyed by ``(series ids, window_start, window_end)`` and
  aggregates by ``(tenant, computed_at, cluster, node, strategy)``, also last
  write wins.
* **Consistent reads**: each read is a single SQL statement, which sees one
  committed snapshot (WAL), so it never observes half of a write call.
* **Durability**: ``synchronous=FULL`` by default; a committed write survives
  a crash of the process (and, with FULL, of the machine).

Each thread gets its own connection (opened on first use); the store object
may be shared between threads. Connections stay open until :meth:`close`, so
prefer a thread pool to a thread per request. Only parameterised SQL is used: every statement
is a constant string in this module.

>>> import tempfile, os
>>> from datetime import datetime, timedelta, timezone
>>> t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
>>> with tempfile.TemporaryDirectory() as d:
...     with SQLiteMetricStore(os.path.join(d, "m.db")) as store:
...         store.write_points("acme", "c-1", "n-1", "cpu", [t0, t0 + timedelta(minutes=1)], [1.0, 2.0])
...         s = store.get_metric_series("acme", "c-1", "n-1", "cpu", t0, t0 + timedelta(hours=1))
...         s.values.tolist()
2
[1.0, 2.0]
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from itertools import groupby, repeat
from types import MappingProxyType, TracebackType
from typing import Any

from .._validate import check_aware_datetime, check_id, check_optional_id, fail_type, fail_value
from ..types import (
    AggregatedAnomalyScore,
    AnomalyResult,
    MetricSeries,
    datetime_to_epoch_us,
    epoch_us_to_datetime,
)
from ._protocols import MetadataValue, SeriesKey, SeriesNotFoundError
from .retention import RetentionPolicy, RetentionReport, RollupBucket, robust_mean

__all__ = ["SQLiteMetricStore"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS meta (
        key TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS series (
        series_id INTEGER PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        cluster_id TEXT NOT NULL,
        node_id TEXT NOT NULL,
        metric_name TEXT NOT NULL,
        metadata TEXT
    )""",
    """CREATE UNIQUE INDEX IF NOT EXISTS series_key
        ON series (tenant_id, cluster_id, node_id, metric_name)""",
    """CREATE TABLE IF NOT EXISTS hot_points (
        series_id INTEGER NOT NULL REFERENCES series (series_id),
        ts_us INTEGER NOT NULL,
        value REAL NOT NULL,
        PRIMARY KEY (series_id, ts_us)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS cold_buckets (
        series_id INTEGER NOT NULL REFERENCES series (series_id),
        bucket_start_us INTEGER NOT NULL,
        mean REAL NOT NULL,
        min REAL NOT NULL,
        max REAL NOT NULL,
        count INTEGER NOT NULL CHECK (count > 0),
        PRIMARY KEY (series_id, bucket_start_us)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS anomaly_results (
        tenant_id TEXT NOT NULL,
        cluster_id TEXT NOT NULL,
        node_id TEXT NOT NULL,
        metric_name TEXT NOT NULL,
        window_start_us INTEGER NOT NULL,
        window_end_us INTEGER NOT NULL,
        anomaly_score REAL NOT NULL,
        anomaly_label TEXT NOT NULL,
        magnitude REAL,
        explanation TEXT,
        PRIMARY KEY (tenant_id, cluster_id, node_id, metric_name, window_start_us, window_end_us)
    ) WITHOUT ROWID""",
    # cluster_id / node_id hold '' for "not at this level" (ids are never empty),
    # so that the primary key can deduplicate tenant- and cluster-level rows.
    """CREATE TABLE IF NOT EXISTS aggregated_scores (
        tenant_id TEXT NOT NULL,
        computed_at_us INTEGER NOT NULL,
        cluster_id TEXT NOT NULL,
        node_id TEXT NOT NULL,
        aggregation_strategy TEXT NOT NULL,
        aggregate_score REAL NOT NULL,
        num_metrics_analyzed INTEGER NOT NULL,
        num_anomalies_detected INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, computed_at_us, cluster_id, node_id, aggregation_strategy)
    ) WITHOUT ROWID""",
)

_GET_META = "SELECT value FROM meta WHERE key = ?"
_SET_META = (
    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)

_INSERT_SERIES = (
    "INSERT OR IGNORE INTO series (tenant_id, cluster_id, node_id, metric_name) VALUES (?, ?, ?, ?)"
)
_SELECT_SERIES = (
    "SELECT series_id, metadata FROM series "
    "WHERE tenant_id = ? AND cluster_id = ? AND node_id = ? AND metric_name = ?"
)
_UPDATE_METADATA = "UPDATE series SET metadata = ? WHERE series_id = ?"
_ALL_SERIES_IDS = "SELECT series_id FROM series ORDER BY series_id"

_LIST_TENANT = (
    "SELECT tenant_id, cluster_id, node_id, metric_name FROM series WHERE tenant_id = ? "
    "ORDER BY cluster_id, node_id, metric_name"
)
_LIST_CLUSTER = (
    "SELECT tenant_id, cluster_id, node_id, metric_name FROM series "
    "WHERE tenant_id = ? AND cluster_id = ? ORDER BY node_id, metric_name"
)
_LIST_NODE = (
    "SELECT tenant_id, cluster_id, node_id, metric_name FROM series "
    "WHERE tenant_id = ? AND cluster_id = ? AND node_id = ? ORDER BY metric_name"
)

_UPSERT_POINT = (
    "INSERT INTO hot_points (series_id, ts_us, value) VALUES (?, ?, ?) "
    "ON CONFLICT (series_id, ts_us) DO UPDATE SET value = excluded.value"
)
# One statement, so one snapshot: a concurrent rollup can never make a point
# appear in both tiers or in neither.
_SELECT_RANGE = (
    "SELECT bucket_start_us, mean FROM cold_buckets "
    "WHERE series_id = ? AND bucket_start_us >= ? AND bucket_start_us < ? "
    "UNION ALL "
    "SELECT ts_us, value FROM hot_points WHERE series_id = ? AND ts_us >= ? AND ts_us < ? "
    "ORDER BY 1"
)
_SELECT_BUCKETS = (
    "SELECT bucket_start_us, mean, min, max, count FROM cold_buckets "
    "WHERE series_id = ? AND bucket_start_us >= ? AND bucket_start_us < ? ORDER BY bucket_start_us"
)
_SELECT_OLD_POINTS = "SELECT ts_us, value FROM hot_points WHERE series_id = ? AND ts_us < ? ORDER BY ts_us"
_DELETE_OLD_POINTS = "DELETE FROM hot_points WHERE series_id = ? AND ts_us < ?"
_INSERT_BUCKET = (
    "INSERT INTO cold_buckets (series_id, bucket_start_us, mean, min, max, count) VALUES (?, ?, ?, ?, ?, ?)"
)
_COUNT_HOT = "SELECT COUNT(*) FROM hot_points"
_COUNT_COLD = "SELECT COUNT(*) FROM cold_buckets"

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

_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
_PRAGMA_SYNCHRONOUS = {
    "OFF": "PRAGMA synchronous = OFF",
    "NORMAL": "PRAGMA synchronous = NORMAL",
    "FULL": "PRAGMA synchronous = FULL",
    "EXTRA": "PRAGMA synchronous = EXTRA",
}


def _empty_metadata() -> Mapping[str, MetadataValue]:
    return MappingProxyType({})


class SQLiteMetricStore:
    """A tiered, multi-tenant metric store and result sink in one SQLite file.

    ``path``: the database file (created if missing; ``":memory:"`` is refused
    because every thread opens its own connection). ``policy``: the
    :class:`RetentionPolicy`; its ``rollup_interval`` is fixed when the database
    is created (opening it later with a different one raises ``ValueError``,
    since existing buckets are aligned to it), ``hot_retention`` may change.
    ``None`` keeps the stored policy (or the default for a new database).
    ``synchronous``: SQLite's ``synchronous`` pragma, ``"FULL"`` (default,
    durable on power loss) or ``"NORMAL"`` (durable on process crash only).
    ``timeout``: seconds a writer waits for another writer's lock.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        policy: RetentionPolicy | None = None,
        synchronous: str = "FULL",
        timeout: float = 30.0,
    ) -> None:
        owner = "SQLiteMetricStore"
        if not isinstance(path, (str, os.PathLike)):
            fail_type(owner, "path", "a str or os.PathLike file path", path)
        self.path = os.fspath(path)
        if self.path in ("", ":memory:") or self.path.startswith("file:"):
            fail_value(owner, "path", "a database file path (not ':memory:' or a URI)", path)
        if policy is not None and not isinstance(policy, RetentionPolicy):
            fail_type(owner, "policy", "a RetentionPolicy or None", policy)
        if synchronous not in _SYNCHRONOUS:
            fail_value(owner, "synchronous", f"one of {', '.join(_SYNCHRONOUS)}", synchronous)
        self._synchronous = synchronous
        self._timeout = float(timeout)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self.policy = self._init_schema(policy)

    # -- connections and transactions -------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise ValueError(f"SQLiteMetricStore: the store for {self.path!r} is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                conn.close()
                raise ValueError(f"SQLiteMetricStore: could not enable WAL on {self.path!r}, got {mode!r}")
            conn.execute(_PRAGMA_SYNCHRONOUS[self._synchronous])
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: ``BEGIN IMMEDIATE`` (take the write lock now), commit or roll back."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Close every connection the store opened (from any thread). Idempotent."""
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    def __enter__(self) -> SQLiteMetricStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteMetricStore({self.path!r}, policy={self.policy!r})"

    def _init_schema(self, policy: RetentionPolicy | None) -> RetentionPolicy:
        with self._transaction() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)
            stored = {
                key: self._meta(conn, key)
                for key in ("schema_version", "rollup_interval_us", "hot_retention_us")
            }
            if stored["schema_version"] is None:
                conn.execute(_SET_META, ("schema_version", SCHEMA_VERSION))
            elif stored["schema_version"] != SCHEMA_VERSION:
                raise ValueError(
                    f"SQLiteMetricStore: {self.path!r} has schema version {stored['schema_version']}, "
                    f"expected {SCHEMA_VERSION}"
                )
            interval_us, retention_us = stored["rollup_interval_us"], stored["hot_retention_us"]
            if policy is None:
                if interval_us is None or retention_us is None:
                    policy = RetentionPolicy()
                else:
                    policy = RetentionPolicy(
                        hot_retention=epoch_us_to_datetime(retention_us) - epoch_us_to_datetime(0),
                        rollup_interval=epoch_us_to_datetime(interval_us) - epoch_us_to_datetime(0),
                    )
            elif interval_us is not None and interval_us != policy.rollup_interval_us:
                raise ValueError(
                    f"SQLiteMetricStore: policy.rollup_interval must match the database's "
                    f"({interval_us} us), got {policy.rollup_interval!r}; existing cold buckets "
                    "are aligned to the stored interval"
                )
            conn.execute(_SET_META, ("rollup_interval_us", policy.rollup_interval_us))
            conn.execute(_SET_META, ("hot_retention_us", policy.hot_retention_us))
        return policy

    @staticmethod
    def _meta(conn: sqlite3.Connection, key: str) -> int | None:
        row = conn.execute(_GET_META, (key,)).fetchone()
        return None if row is None else int(row[0])

    # -- writing points ---------------------------------------------------------------------

    def write_points(
        self,
        tenant_id: str,
        cluster_id: str,
        node_id: str,
        metric_name: str,
        timestamps: Iterable[datetime],
        values: Iterable[float],
        *,
        metadata: Mapping[str, MetadataValue] | None = None,
    ) -> int:
        """Write points of one series atomically; return how many were written.

        Validation is :class:`MetricSeries`'s (timezone-aware, strictly
        ascending timestamps; finite values; same length). A point at an
        existing timestamp replaces the stored value (last write wins). A
        non-empty ``metadata`` replaces the series' stored metadata; ``None``
        or empty leaves it as it is. Points older than the rollup horizon raise
        ``ValueError`` (see :mod:`~backend.analytics.store.retention`).
        """
        series = MetricSeries(tenant_id, cluster_id, node_id, metric_name, timestamps, values, metadata)
        return self._write(iter((series,)), "write_points", single=True)

    def write_series(self, series: MetricSeries) -> int:
        """Write every point of ``series`` (and its metadata, if any) atomically."""
        if not isinstance(series, MetricSeries):
            fail_type("SQLiteMetricStore.write_series", "series", "a MetricSeries", series)
        return self._write(iter((series,)), "write_series", single=True)

    def write_batch(self, batch: Iterable[MetricSeries]) -> int:
        """Write several series in one transaction: every point lands, or none does.

        ``batch`` may be a lazy iterable; it is consumed inside the
        transaction, so an error raised by it (or by any item) rolls back the
        items already written.
        """
        if isinstance(batch, MetricSeries) or not isinstance(batch, Iterable):
            fail_type("SQLiteMetricStore.write_batch", "batch", "an iterable of MetricSeries", batch)
        return self._write(iter(batch), "write_batch", single=False)

    def _write(self, batch: Iterator[MetricSeries], method: str, *, single: bool) -> int:
        owner = f"SQLiteMetricStore.{method}"
        written = 0
        with self._transaction() as conn:
            horizon = self._meta(conn, "horizon_us")
            for i, series in enumerate(batch):
                where = "" if single else f"batch[{i}]."
                if not isinstance(series, MetricSeries):
                    raise TypeError(
                        f"{owner}: batch[{i}] must be a MetricSeries, "
                        f"got {series!r} ({type(series).__name__})"
                    )
                us = series.epoch_us
                if len(us) == 0:
                    continue
                if horizon is not None and us[0] < horizon:
                    raise ValueError(
                        f"{owner}: {where}timestamps[0]: expected a timestamp at or after the rollup "
                        f"horizon {epoch_us_to_datetime(horizon)}, got {epoch_us_to_datetime(us[0])} "
                        "(older points are already rolled up into the cold tier)"
                    )
                series_id = self._series_id(conn, series)
                conn.executemany(_UPSERT_POINT, zip(repeat(series_id), us, series.values))
                written += len(us)
        return written

    @staticmethod
    def _series_id(conn: sqlite3.Connection, series: MetricSeries) -> int:
        key = series.ids
        conn.execute(_INSERT_SERIES, key)
        series_id = int(conn.execute(_SELECT_SERIES, key).fetchone()[0])
        if series.metadata:
            text = json.dumps(dict(series.metadata), sort_keys=True, allow_nan=False)
            conn.execute(_UPDATE_METADATA, (text, series_id))
        return series_id

    # -- reading points ---------------------------------------------------------------------

    def _lookup(self, owner: str, key: SeriesKey) -> tuple[int, Mapping[str, MetadataValue]]:
        for name, value in zip(SeriesKey._fields, key, strict=True):
            check_id(owner, name, value)
        row = self._conn().execute(_SELECT_SERIES, key).fetchone()
        if row is None:
            raise SeriesNotFoundError(key)
        metadata = _empty_metadata() if row[1] is None else MappingProxyType(json.loads(row[1]))
        return int(row[0]), metadata

    @staticmethod
    def _range_us(owner: str, start: datetime, end: datetime) -> tuple[int, int]:
        check_aware_datetime(owner, "start", start)
        check_aware_datetime(owner, "end", end)
        if start > end:
            raise ValueError(f"{owner}: start must be <= end, got start={start} > end={end}")
        return datetime_to_epoch_us(start), datetime_to_epoch_us(end)

    def get_metric_series(
        self,
        tenant_id: str,
        cluster_id: str,
        node_id: str,
        metric_name: str,
        start: datetime,
        end: datetime,
    ) -> MetricSeries:
        """The points of one series with ``start <= timestamp < end``, across both tiers.

        Hot points come back at full resolution; each cold bucket comes back as
        one point at its start time with the bucket mean, and is included when
        its start time is in ``[start, end)``. ``start``/``end`` must be
        timezone-aware (naive raises ``ValueError`` naming the argument) with
        ``start <= end``. Raises :class:`SeriesNotFoundError` (a ``KeyError``)
        when this tenant has no such series. Time: O(log n + points returned).
        """
        owner = "SQLiteMetricStore.get_metric_series"
        key = SeriesKey(tenant_id, cluster_id, node_id, metric_name)
        start_us, end_us = self._range_us(owner, start, end)
        series_id, metadata = self._lookup(owner, key)
        rows = (
            self._conn()
            .execute(_SELECT_RANGE, (series_id, start_us, end_us, series_id, start_us, end_us))
            .fetchall()
        )
        us = [r[0] for r in rows]
        values = [r[1] for r in rows]
        return MetricSeries.from_arrays(*key, us, values, metadata)

    def get_rollup_buckets(
        self,
        tenant_id: str,
        cluster_id: str,
        node_id: str,
        metric_name: str,
        start: datetime,
        end: datetime,
    ) -> list[RollupBucket]:
        """The cold-tier buckets of one series whose start is in ``[start, end)``, with min/max/count."""
        owner = "SQLiteMetricStore.get_rollup_buckets"
        key = SeriesKey(tenant_id, cluster_id, node_id, metric_name)
        start_us, end_us = self._range_us(owner, start, end)
        series_id, _ = self._lookup(owner, key)
        rows = self._conn().execute(_SELECT_BUCKETS, (series_id, start_us, end_us)).fetchall()
        return [RollupBucket(epoch_us_to_datetime(b), mean, lo, hi, n) for b, mean, lo, hi, n in rows]

    def list_series(
        self, tenant_id: str, cluster_id: str | None = None, node_id: str | None = None
    ) -> list[SeriesKey]:
        """The tenant's series keys sorted by (cluster, node, metric); optionally one cluster or node.

        ``node_id`` without ``cluster_id`` raises ``ValueError`` (node ids are
        only unique within a cluster).
        """
        owner = "SQLiteMetricStore.list_series"
        check_id(owner, "tenant_id", tenant_id)
        check_optional_id(owner, "cluster_id", cluster_id)
        check_optional_id(owner, "node_id", node_id)
        conn = self._conn()
        if cluster_id is None:
            if node_id is not None:
                raise ValueError(f"{owner}: node_id {node_id!r} given without a cluster_id")
            rows = conn.execute(_LIST_TENANT, (tenant_id,)).fetchall()
        elif node_id is None:
            rows = conn.execute(_LIST_CLUSTER, (tenant_id, cluster_id)).fetchall()
        else:
            rows = conn.execute(_LIST_NODE, (tenant_id, cluster_id, node_id)).fetchall()
        return [SeriesKey(*row) for row in rows]

    def tier_counts(self) -> dict[str, int]:
        """``{"hot": raw points, "cold": buckets}`` over all tenants (for operators and checks)."""
        conn = self._conn()
        return {
            "hot": int(conn.execute(_COUNT_HOT).fetchone()[0]),
            "cold": int(conn.execute(_COUNT_COLD).fetchone()[0]),
        }

    @property
    def horizon(self) -> datetime | None:
        """The current rollup horizon (``None`` until ``apply_retention`` first rolls something up)."""
        value = self._meta(self._conn(), "horizon_us")
        return None if value is None else epoch_us_to_datetime(value)

    # -- retention --------------------------------------------------------------------------

    def apply_retention(self, now: datetime) -> RetentionReport:
        """Roll hot points older than the policy's horizon for ``now`` into cold buckets.

        One transaction: each affected bucket gets its mean (exact summation),
        min, max and count, and the raw points are deleted from the hot tier.
        The horizon only moves forward; an earlier ``now`` does nothing.
        """
        owner = "SQLiteMetricStore.apply_retention"
        check_aware_datetime(owner, "now", now)
        target = self.policy.horizon_us(datetime_to_epoch_us(now))
        interval = self.policy.rollup_interval_us
        points = buckets_written = touched = 0
        with self._transaction() as conn:
            current = self._meta(conn, "horizon_us")
            if current is not None and target <= current:
                return RetentionReport(epoch_us_to_datetime(current), 0, 0, 0)
            series_ids = [row[0] for row in conn.execute(_ALL_SERIES_IDS).fetchall()]
            for series_id in series_ids:
                rows = conn.execute(_SELECT_OLD_POINTS, (series_id, target)).fetchall()
                if not rows:
                    continue
                buckets = []
                for bucket, group in groupby(rows, key=lambda row: row[0] - row[0] % interval):
                    values = [row[1] for row in group]
                    buckets.append(
                        (series_id, bucket, robust_mean(values), min(values), max(values), len(values))
                    )
                conn.executemany(_INSERT_BUCKET, buckets)
                conn.execute(_DELETE_OLD_POINTS, (series_id, target))
                points += len(rows)
                buckets_written += len(buckets)
                touched += 1
            conn.execute(_SET_META, ("horizon_us", target))
        logger.info(
            "retention: horizon %s, %d points rolled into %d buckets over %d series",
            epoch_us_to_datetime(target),
            points,
            buckets_written,
            touched,
        )
        return RetentionReport(epoch_us_to_datetime(target), points, buckets_written, touched)

    # -- results sink -----------------------------------------------------------------------

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
