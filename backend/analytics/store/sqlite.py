"""``SQLiteMetricStore``: the reference ``MetricStore`` and ``ResultSink`` on stdlib ``sqlite3``.

The store is built from three private parts: the schema and migrations
(:mod:`~backend.analytics.store._schema`), the result sink
(:mod:`~backend.analytics.store._sink`) and, here, the metric points with
their retention. The retention policy (hot tier, cold tier, horizon) is
described in :mod:`backend.analytics.store.retention`.

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
is a constant string in these modules.

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
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from itertools import groupby, repeat
from types import MappingProxyType

from .._sequences import _MAX_US, _MIN_US
from .._validate import (
    check_aware_datetime,
    check_id,
    check_optional_id,
    fail_type,
    fail_value,
)
from ..types import MetricSeries, datetime_to_epoch_us, epoch_us_to_datetime
from ._connection import (
    SYNCHRONOUS_LEVELS,
    check_database_path,
    check_timeout,
    wraps_sqlite_errors,
)
from ._protocols import MetadataValue, SeriesKey, SeriesNotFoundError
from ._schema import current_policy, init_schema, read_meta, write_meta
from ._sink import _SQLiteResultSink
from .retention import RetentionPolicy, RetentionReport, RollupBucket, robust_mean

__all__ = ["SQLiteMetricStore"]

logger = logging.getLogger(__name__)

_INSERT_SERIES = (
    "INSERT OR IGNORE INTO series (tenant_id, cluster_id, node_id, metric_name) VALUES (?, ?, ?, ?)"
)
_SELECT_SERIES = (
    "SELECT series_id, metadata FROM series "
    "WHERE tenant_id = ? AND cluster_id = ? AND node_id = ? AND metric_name = ?"
)
_UPDATE_METADATA = "UPDATE series SET metadata = ? WHERE series_id = ?"
_ALL_SERIES_IDS = "SELECT series_id FROM series ORDER BY series_id"

_LIST_TENANTS = "SELECT DISTINCT tenant_id FROM series ORDER BY tenant_id"
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


def _empty_metadata() -> Mapping[str, MetadataValue]:
    return MappingProxyType({})


class SQLiteMetricStore(_SQLiteResultSink):
    """A tiered, multi-tenant metric store and result sink in one SQLite file.

    ``path``: the database file (created if missing; ``":memory:"`` is refused
    because every thread opens its own connection). ``policy``: the
    :class:`RetentionPolicy`; its ``rollup_interval`` is fixed when the database
    is created (opening it later with a different one raises ``ValueError``,
    since existing buckets are aligned to it), ``hot_retention`` may change.
    ``None`` keeps the stored policy (or the default for a new database).
    ``synchronous``: SQLite's ``synchronous`` pragma, ``"FULL"`` (default,
    durable on power loss) or ``"NORMAL"`` (durable on process crash only).
    ``timeout``: seconds a writer waits for another writer's lock, a positive
    finite number; past it the call raises
    :class:`~backend.analytics.errors.StoreError` (as does any failure of the
    database itself: a corrupt file, a full disk), with the ``sqlite3`` error
    as ``__cause__``. Bad arguments raise ``ValueError``/``TypeError``.

    A current file opened with ``policy=None`` (or its own policy) only reads
    until a write is asked for, so a read-only file opens and reads. Its
    *directory* must be writable, though, unless the file's ``-wal`` and
    ``-shm`` companions are there already: SQLite's WAL journal creates them on
    open (otherwise :class:`~backend.analytics.errors.StoreError`, "unable to
    open database file"). To read a store on read-only media, copy the file to
    a writable directory first.
    """

    @wraps_sqlite_errors
    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        policy: RetentionPolicy | None = None,
        synchronous: str = "FULL",
        timeout: float = 30.0,
    ) -> None:
        owner = "SQLiteMetricStore"
        path_text = check_database_path(owner, path)
        if policy is not None and not isinstance(policy, RetentionPolicy):
            fail_type(owner, "policy", "a RetentionPolicy or None", policy)
        if synchronous not in SYNCHRONOUS_LEVELS:
            fail_value(owner, "synchronous", f"one of {', '.join(SYNCHRONOUS_LEVELS)}", synchronous)
        timeout_s = check_timeout(owner, timeout)
        super().__init__(path_text, synchronous=synchronous, timeout=timeout_s)
        try:
            current = current_policy(self._conn(), policy)  # (reads only: a read-only copy opens)
            if current is not None:
                self.policy = current
            else:
                with self._transaction() as conn:
                    self.policy = init_schema(conn, self.path, policy)
        except BaseException:  # (no caller holds this store to close it: close its connection now)
            self.close()
            raise

    def __repr__(self) -> str:
        return f"SQLiteMetricStore({self.path!r}, policy={self.policy!r})"

    # -- writing points ---------------------------------------------------------------------

    @wraps_sqlite_errors
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

    @wraps_sqlite_errors
    def write_series(self, series: MetricSeries) -> int:
        """Write every point of ``series`` (and its metadata, if any) atomically.

        A series without points registers the series and its metadata when it
        has metadata (a later read finds it, empty); without either it writes
        nothing.
        """
        if not isinstance(series, MetricSeries):
            fail_type("SQLiteMetricStore.write_series", "series", "a MetricSeries", series)
        return self._write(iter((series,)), "write_series", single=True)

    @wraps_sqlite_errors
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
        with self._points_transaction() as conn:
            horizon = read_meta(conn, "horizon_us")
            for i, series in enumerate(batch):
                where = "" if single else f"batch[{i}]."
                if not isinstance(series, MetricSeries):
                    raise TypeError(
                        f"{owner}: batch[{i}] must be a MetricSeries, "
                        f"got {series!r} ({type(series).__name__})"
                    )
                us = series.epoch_us
                if len(us) == 0:
                    if series.metadata:  # (no points, but metadata to keep: the series is registered)
                        self._series_id(conn, series)
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

    @contextmanager
    def _points_transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction for series and their points, foreign keys unchecked inside it.

        Each point's ``series_id`` comes from the series row that the same
        transaction inserted or read under its write lock, so checking the key
        again on every point proves nothing, and it is a third of a bulk
        write's time. The check is on again afterwards, whatever happened
        (``PRAGMA foreign_keys`` is a no-op inside a transaction: it is set
        around it).
        """
        conn = self._conn()
        conn.execute("PRAGMA foreign_keys = OFF")
        try:
            with self._transaction() as tx:
                yield tx
        finally:
            conn.execute("PRAGMA foreign_keys = ON")

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
        start_us = datetime_to_epoch_us(check_aware_datetime(owner, "start", start))
        end_us = datetime_to_epoch_us(check_aware_datetime(owner, "end", end))
        if start_us > end_us:  # (as instants: two times of one zone compare by wall clock)
            raise ValueError(f"{owner}: start must be <= end, got start={start} > end={end}")
        return start_us, end_us

    @wraps_sqlite_errors
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
        return self._series_between(owner, key, start_us, end_us)

    @wraps_sqlite_errors
    def get_whole_series(
        self, tenant_id: str, cluster_id: str, node_id: str, metric_name: str
    ) -> MetricSeries:
        """Every point of one series, across both tiers: :meth:`get_metric_series` over all time.

        From year 1 to the last instant of year 9999 included (which no
        half-open ``[start, end)`` of datetimes can reach).
        """
        key = SeriesKey(tenant_id, cluster_id, node_id, metric_name)
        return self._series_between("SQLiteMetricStore.get_whole_series", key, _MIN_US, _MAX_US + 1)

    def _series_between(self, owner: str, key: SeriesKey, start_us: int, end_us: int) -> MetricSeries:
        conn = self._conn()
        # One read transaction: the metadata and the points of one committed state (a write between
        # the two statements gave points of one commit with metadata of another).
        conn.execute("BEGIN")
        try:
            series_id, metadata = self._lookup(owner, key)
            bounds = (series_id, start_us, end_us, series_id, start_us, end_us)
            rows = conn.execute(_SELECT_RANGE, bounds).fetchall()
        finally:
            conn.execute("COMMIT")
        us = [r[0] for r in rows]
        values = [r[1] for r in rows]
        return MetricSeries.from_arrays(*key, us, values, metadata)

    @wraps_sqlite_errors
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

    @wraps_sqlite_errors
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

    @wraps_sqlite_errors
    def list_tenants(self) -> list[str]:
        """Every tenant with at least one stored series, sorted (for fleet-wide runs and operators).

        .. versionadded:: 0.2.0
        """
        return [str(row[0]) for row in self._conn().execute(_LIST_TENANTS).fetchall()]

    @wraps_sqlite_errors
    def tier_counts(self) -> dict[str, int]:
        """``{"hot": raw points, "cold": buckets}`` over all tenants (for operators and checks)."""
        conn = self._conn()
        return {
            "hot": int(conn.execute(_COUNT_HOT).fetchone()[0]),
            "cold": int(conn.execute(_COUNT_COLD).fetchone()[0]),
        }

    @property
    @wraps_sqlite_errors
    def horizon(self) -> datetime | None:
        """The current rollup horizon (``None`` until ``apply_retention`` first rolls something up)."""
        value = read_meta(self._conn(), "horizon_us")
        return None if value is None else epoch_us_to_datetime(value)  # init_schema keeps it in range

    # -- retention --------------------------------------------------------------------------

    @wraps_sqlite_errors
    def apply_retention(self, now: datetime) -> RetentionReport:
        """Roll hot points older than the policy's horizon for ``now`` into cold buckets.

        One transaction: each affected bucket gets its mean (exact summation),
        min, max and count, and the raw points are deleted from the hot tier.
        The horizon only moves forward; an earlier ``now`` does nothing, and so
        does a ``now`` whose horizon falls at or before 0001-01-01T00:00:00Z (no
        point can be older). The bucket that holds that first instant starts
        at it rather than at its epoch-aligned start, which a ``datetime``
        cannot represent.
        """
        owner = "SQLiteMetricStore.apply_retention"
        check_aware_datetime(owner, "now", now)
        target = self.policy.horizon_us(datetime_to_epoch_us(now))
        interval = self.policy.rollup_interval_us
        points = buckets_written = touched = 0
        with self._transaction() as conn:
            current = read_meta(conn, "horizon_us")
            if target <= _MIN_US or (current is not None and target <= current):
                return RetentionReport(None if current is None else epoch_us_to_datetime(current), 0, 0, 0)
            series_ids = [row[0] for row in conn.execute(_ALL_SERIES_IDS).fetchall()]
            for series_id in series_ids:
                rows = conn.execute(_SELECT_OLD_POINTS, (series_id, target)).fetchall()
                if not rows:
                    continue
                buckets = []
                for bucket, group in groupby(rows, key=lambda row: max(_MIN_US, row[0] - row[0] % interval)):
                    values = [row[1] for row in group]
                    buckets.append(
                        (series_id, bucket, robust_mean(values), min(values), max(values), len(values))
                    )
                conn.executemany(_INSERT_BUCKET, buckets)
                conn.execute(_DELETE_OLD_POINTS, (series_id, target))
                points += len(rows)
                buckets_written += len(buckets)
                touched += 1
            write_meta(conn, "horizon_us", target)
        logger.info(
            "retention: horizon %s, %d points rolled into %d buckets over %d series",
            epoch_us_to_datetime(target),
            points,
            buckets_written,
            touched,
        )
        return RetentionReport(epoch_us_to_datetime(target), points, buckets_written, touched)
