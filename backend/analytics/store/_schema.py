"""The SQLite store's schema: table definitions, the meta table and opening a file.

Schema (one database file, WAL journal)::

    series         (series_id INTEGER PRIMARY KEY, tenant_id, cluster_id, node_id, metric_name,
                    metadata JSON)            UNIQUE (tenant_id, cluster_id, node_id, metric_name)
    hot_points     (series_id, ts_us, value)                 PRIMARY KEY (series_id, ts_us)
    cold_buckets   (series_id, bucket_start_us, mean, min, max, count)
                                                             PRIMARY KEY (series_id, bucket_start_us)
    anomaly_results, aggregated_scores, meta

Timestamps are integer microseconds since 1970-01-01T00:00:00Z. The point
tables are ``WITHOUT ROWID`` tables clustered on their primary key, so a range
query on one series is a B-tree seek plus a scan of exactly the rows returned.
``meta`` holds the schema version and the retention policy the file was
created with.
"""

from __future__ import annotations

import sqlite3

from .._sequences import epoch_us_to_datetime
from .retention import RetentionPolicy

__all__ = ["SCHEMA_VERSION", "init_schema", "read_meta", "write_meta"]

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


def read_meta(conn: sqlite3.Connection, key: str) -> int | None:
    """The integer stored under ``key`` in the meta table, or ``None``."""
    row = conn.execute(_GET_META, (key,)).fetchone()
    return None if row is None else int(row[0])


def write_meta(conn: sqlite3.Connection, key: str, value: int) -> None:
    """Store ``value`` under ``key`` in the meta table (inside the caller's transaction)."""
    conn.execute(_SET_META, (key, value))


def init_schema(conn: sqlite3.Connection, path: str, policy: RetentionPolicy | None) -> RetentionPolicy:
    """Create the tables if missing and reconcile ``policy`` with the stored one.

    Runs inside the caller's write transaction. Returns the policy in force:
    ``policy`` if given (its ``rollup_interval`` must equal the stored one),
    else the stored policy, else the default.
    """
    for statement in _SCHEMA:
        conn.execute(statement)
    keys = ("schema_version", "rollup_interval_us", "hot_retention_us")
    stored = {key: read_meta(conn, key) for key in keys}
    if stored["schema_version"] is None:
        write_meta(conn, "schema_version", SCHEMA_VERSION)
    elif stored["schema_version"] != SCHEMA_VERSION:
        raise ValueError(
            f"SQLiteMetricStore: {path!r} has schema version {stored['schema_version']}, "
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
    write_meta(conn, "rollup_interval_us", policy.rollup_interval_us)
    write_meta(conn, "hot_retention_us", policy.hot_retention_us)
    return policy
