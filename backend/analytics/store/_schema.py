"""The SQLite store's schema: table definitions, the schema version and migrations.

Schema version 3 (one database file, WAL journal)::

    meta              (key, value)           schema_version, rollup_interval_us, hot_retention_us,
                                             horizon_us
    series            (series_id INTEGER PRIMARY KEY, tenant_id, cluster_id, node_id, metric_name,
                       metadata JSON)        UNIQUE (tenant_id, cluster_id, node_id, metric_name)
    hot_points        (series_id, ts_us, value)              PRIMARY KEY (series_id, ts_us)
    cold_buckets      (series_id, bucket_start_us, mean, min, max, count)
                                                             PRIMARY KEY (series_id, bucket_start_us)
    anomaly_results   (tenant_id, cluster_id, node_id, metric_name, window_start_us, window_end_us,
                       engine, anomaly_score, anomaly_label, magnitude, explanation)
                      PRIMARY KEY (tenant_id, cluster_id, node_id, metric_name, window_start_us,
                                   window_end_us, engine)
                      INDEX (tenant_id, metric_name, window_start_us), INDEX (tenant_id, window_start_us),
                      INDEX (tenant_id, window_start_us) WHERE anomaly_label != 'normal'
    latest_results    (tenant_id, engine, cluster_id, node_id, metric_name, window_end_us,
                       window_start_us)
                      PRIMARY KEY (tenant_id, engine, cluster_id, node_id, metric_name)
    aggregated_scores (tenant_id, computed_at_us, cluster_id, node_id, aggregation_strategy, engine,
                       aggregate_score, num_metrics_analyzed, num_anomalies_detected)
                      PRIMARY KEY (tenant_id, computed_at_us, cluster_id, node_id,
                                   aggregation_strategy, engine)
                      INDEX (tenant_id, engine, computed_at_us)
    result_engines    (tenant_id, engine)                    PRIMARY KEY (tenant_id, engine)

Timestamps are integer microseconds since 1970-01-01T00:00:00Z. Every table
is ``WITHOUT ROWID`` (except ``series``), clustered on its primary key, so a
range query on one series, or on one node's results, is a B-tree seek plus a
scan of exactly the rows returned.

The version is stored twice: ``meta.schema_version`` (read by the store) and
``PRAGMA user_version`` (for tools such as the ``sqlite3`` shell). Opening a
file migrates it to the current version inside the opening transaction, so a
crash halfway leaves the old version intact; opening a current file with its
own policy writes nothing (so a read-only copy opens and reads):

* 1 -> 2: results and aggregates gain the ``engine`` column (part of their
  key, so two engines' results on the same windows coexist); the rows already
  there are attributed to :data:`UNRECORDED_ENGINE`.
* 2 -> 3: ``latest_results`` (each series' latest window of each engine, kept
  by ``write_results``: what ``read_latest_results`` reads, so a scrape costs
  the number of series, not the history) is filled from the results there;
  the partial index ``results_anomalous`` (the rows not labelled ``normal``)
  serves ``anomalous_only`` reads.

A file written by a newer version is refused with ``ValueError``.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from datetime import timedelta

from .._sequences import _MIN_US
from .retention import RetentionPolicy

logger = logging.getLogger(__name__)

__all__ = ["SCHEMA_VERSION", "UNRECORDED_ENGINE", "current_policy", "init_schema", "read_meta", "write_meta"]

SCHEMA_VERSION = 3
# The engine name given to results and aggregates written before the store recorded engines.
UNRECORDED_ENGINE = "unrecorded"

_TABLES = (
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
)

_RESULTS_TABLE = """CREATE TABLE IF NOT EXISTS anomaly_results (
        tenant_id TEXT NOT NULL,
        cluster_id TEXT NOT NULL,
        node_id TEXT NOT NULL,
        metric_name TEXT NOT NULL,
        window_start_us INTEGER NOT NULL,
        window_end_us INTEGER NOT NULL,
        engine TEXT NOT NULL,
        anomaly_score REAL NOT NULL,
        anomaly_label TEXT NOT NULL,
        magnitude REAL,
        explanation TEXT,
        PRIMARY KEY (tenant_id, cluster_id, node_id, metric_name, window_start_us, window_end_us, engine)
    ) WITHOUT ROWID"""
# cluster_id / node_id hold '' for "not at this level" (ids are never empty),
# so that the primary key can deduplicate tenant- and cluster-level rows.
_AGGREGATES_TABLE = """CREATE TABLE IF NOT EXISTS aggregated_scores (
        tenant_id TEXT NOT NULL,
        computed_at_us INTEGER NOT NULL,
        cluster_id TEXT NOT NULL,
        node_id TEXT NOT NULL,
        aggregation_strategy TEXT NOT NULL,
        engine TEXT NOT NULL,
        aggregate_score REAL NOT NULL,
        num_metrics_analyzed INTEGER NOT NULL,
        num_anomalies_detected INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, computed_at_us, cluster_id, node_id, aggregation_strategy, engine)
    ) WITHOUT ROWID"""
_RESULT_ENGINES_TABLE = """CREATE TABLE IF NOT EXISTS result_engines (
        tenant_id TEXT NOT NULL,
        engine TEXT NOT NULL,
        PRIMARY KEY (tenant_id, engine)
    ) WITHOUT ROWID"""

# Each series' latest window of each engine: the largest window_end_us, then window_start_us, of its
# results (a row of anomaly_results with this key). write_results keeps it.
_LATEST_TABLE = """CREATE TABLE IF NOT EXISTS latest_results (
        tenant_id TEXT NOT NULL,
        engine TEXT NOT NULL,
        cluster_id TEXT NOT NULL,
        node_id TEXT NOT NULL,
        metric_name TEXT NOT NULL,
        window_end_us INTEGER NOT NULL,
        window_start_us INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, engine, cluster_id, node_id, metric_name)
    ) WITHOUT ROWID"""
# The rows not labelled normal, by time: anomalous_only reads without a cluster or metric
# (the few anomalous windows of a tenant, not all of its results). Only those rows are indexed,
# so a write of normal results does not touch it.
_ANOMALOUS_INDEX = (
    "CREATE INDEX IF NOT EXISTS results_anomalous ON anomaly_results (tenant_id, window_start_us) "
    "WHERE anomaly_label != 'normal'"
)

_SCHEMA = (
    *_TABLES,
    _RESULTS_TABLE,
    # The primary key serves filters on (cluster, node, metric, window_start); these two
    # serve a metric across the tenant's nodes, and a time range across the whole tenant.
    "CREATE INDEX IF NOT EXISTS results_by_metric "
    "ON anomaly_results (tenant_id, metric_name, window_start_us)",
    "CREATE INDEX IF NOT EXISTS results_by_time ON anomaly_results (tenant_id, window_start_us)",
    _ANOMALOUS_INDEX,
    _LATEST_TABLE,
    _AGGREGATES_TABLE,
    # The latest snapshot of one engine, and its list of snapshots.
    "CREATE INDEX IF NOT EXISTS aggregates_by_engine "
    "ON aggregated_scores (tenant_id, engine, computed_at_us)",
    _RESULT_ENGINES_TABLE,
    "PRAGMA user_version = 3",  # = SCHEMA_VERSION (a test checks it)
)

# Version 1 (the first release) had no engine column: results and aggregates were keyed
# without it. Its rows are kept and attributed to UNRECORDED_ENGINE.
_MIGRATE_1_TO_2 = (
    "ALTER TABLE anomaly_results RENAME TO anomaly_results_v1",
    _RESULTS_TABLE,
    "INSERT INTO anomaly_results (tenant_id, cluster_id, node_id, metric_name, window_start_us, "
    "window_end_us, engine, anomaly_score, anomaly_label, magnitude, explanation) "
    "SELECT tenant_id, cluster_id, node_id, metric_name, window_start_us, window_end_us, :engine, "
    "anomaly_score, anomaly_label, magnitude, explanation FROM anomaly_results_v1",
    "DROP TABLE anomaly_results_v1",
    "ALTER TABLE aggregated_scores RENAME TO aggregated_scores_v1",
    _AGGREGATES_TABLE,
    "INSERT INTO aggregated_scores (tenant_id, computed_at_us, cluster_id, node_id, aggregation_strategy, "
    "engine, aggregate_score, num_metrics_analyzed, num_anomalies_detected) "
    "SELECT tenant_id, computed_at_us, cluster_id, node_id, aggregation_strategy, :engine, "
    "aggregate_score, num_metrics_analyzed, num_anomalies_detected FROM aggregated_scores_v1",
    "DROP TABLE aggregated_scores_v1",
    _RESULT_ENGINES_TABLE,
    "INSERT OR IGNORE INTO result_engines (tenant_id, engine) "
    "SELECT DISTINCT tenant_id, :engine FROM anomaly_results",
)
# Each series' latest window of each engine, from the results there: one pass in (end, start)
# order, each row replacing the one before it (the WHERE true lets SQLite parse the upsert).
_FILL_LATEST = (
    "INSERT INTO latest_results (tenant_id, engine, cluster_id, node_id, metric_name, window_end_us, "
    "window_start_us) SELECT tenant_id, engine, cluster_id, node_id, metric_name, window_end_us, "
    "window_start_us FROM anomaly_results WHERE true ORDER BY window_end_us, window_start_us "
    "ON CONFLICT (tenant_id, engine, cluster_id, node_id, metric_name) DO UPDATE SET "
    "window_end_us = excluded.window_end_us, window_start_us = excluded.window_start_us"
)
# (the results table "IF NOT EXISTS" first: a file that holds only a meta table of version 2 opens)
_MIGRATE_2_TO_3 = (_RESULTS_TABLE, _LATEST_TABLE, _FILL_LATEST, _ANOMALOUS_INDEX)
# from version -> the statements that bring a file to version + 1
_MIGRATIONS = {1: _MIGRATE_1_TO_2, 2: _MIGRATE_2_TO_3}

_GET_META = "SELECT value FROM meta WHERE key = ?"
_SET_META = (
    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


_DELETE_META = "DELETE FROM meta WHERE key = ?"


def read_meta(conn: sqlite3.Connection, key: str) -> int | None:
    """The integer stored under ``key`` in the meta table, or ``None``."""
    row = conn.execute(_GET_META, (key,)).fetchone()
    return None if row is None else int(row[0])


def write_meta(conn: sqlite3.Connection, key: str, value: int) -> None:
    """Store ``value`` under ``key`` in the meta table (inside the caller's transaction)."""
    conn.execute(_SET_META, (key, value))


# The names of every table and index the schema makes (what a current file holds).
_NAMES = frozenset(
    re.findall(r"CREATE (?:UNIQUE )?(?:TABLE|INDEX) IF NOT EXISTS (\w+)", "\n".join((*_TABLES, *_SCHEMA)))
)


def current_policy(conn: sqlite3.Connection, policy: RetentionPolicy | None) -> RetentionPolicy | None:
    """The policy in force if the file is already current and ``policy`` changes nothing; else ``None``.

    Reads only (no transaction that writes), so that a current store opens, and
    reads, where its file cannot be written (a read-only copy, a backup). Where
    anything would be written (a new or older file, a policy that differs from
    the stored one, a horizon to drop), ``None``: :func:`init_schema` does it,
    in a write transaction, with its checks and errors.
    """
    listed = conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')")
    if not {str(row[0]) for row in listed}.issuperset(_NAMES):
        return None
    try:
        version = read_meta(conn, "schema_version")
        interval_us, retention_us = read_meta(conn, "rollup_interval_us"), read_meta(conn, "hot_retention_us")
        horizon = read_meta(conn, "horizon_us")
    except ValueError:
        return None
    user_version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version != SCHEMA_VERSION or user_version != SCHEMA_VERSION:
        return None
    if interval_us is None or retention_us is None:
        return None
    if horizon is not None and horizon < _MIN_US:
        return None
    if policy is None:
        return _stored_policy(interval_us, retention_us)
    if policy.rollup_interval_us != interval_us or policy.hot_retention_us != retention_us:
        return None
    return policy


def _stored_policy(interval_us: int, retention_us: int) -> RetentionPolicy:
    """The policy the meta table records."""
    return RetentionPolicy(
        hot_retention=timedelta(microseconds=retention_us),
        rollup_interval=timedelta(microseconds=interval_us),
    )


def init_schema(conn: sqlite3.Connection, path: str, policy: RetentionPolicy | None) -> RetentionPolicy:
    """Create the tables if missing and reconcile ``policy`` with the stored one.

    Runs inside the caller's write transaction. Returns the policy in force:
    ``policy`` if given (its ``rollup_interval`` must equal the stored one),
    else the stored policy, else the default.
    """
    conn.execute(_TABLES[0])  # meta, to read the version
    try:
        version = read_meta(conn, "schema_version")
    except ValueError:
        version = -1  # (not a number: refused below, as any version this library never wrote)
    if version is not None and not 1 <= version <= SCHEMA_VERSION:  # (1 .. SCHEMA_VERSION - 1 migrate)
        if version > SCHEMA_VERSION:
            raise ValueError(
                f"SQLiteMetricStore: {path!r} has schema version {version}, written by a newer "
                f"backend.analytics; this one reads versions up to {SCHEMA_VERSION}"
            )
        stored = conn.execute(_GET_META, ("schema_version",)).fetchone()[0]
        raise ValueError(
            f"SQLiteMetricStore: {path!r} has schema version {stored!r} in its meta table, which no "
            f"backend.analytics writes (versions 1 to {SCHEMA_VERSION}); the file is damaged or not a store"
        )
    if version is not None:
        while version < SCHEMA_VERSION:
            for statement in _MIGRATIONS[version]:
                conn.execute(statement, {"engine": UNRECORDED_ENGINE} if ":engine" in statement else ())
            logger.info("migrated %s from schema version %d to %d", path, version, version + 1)
            version += 1
    for statement in _SCHEMA:
        conn.execute(statement)
    write_meta(conn, "schema_version", SCHEMA_VERSION)
    keys = ("rollup_interval_us", "hot_retention_us")
    stored = {key: read_meta(conn, key) for key in keys}
    interval_us, retention_us = stored["rollup_interval_us"], stored["hot_retention_us"]
    if policy is None:
        if interval_us is None or retention_us is None:
            policy = RetentionPolicy()
        else:
            policy = _stored_policy(interval_us, retention_us)
    elif interval_us is not None and interval_us != policy.rollup_interval_us:
        raise ValueError(
            f"SQLiteMetricStore: policy.rollup_interval must match the database's "
            f"({interval_us} us), got {policy.rollup_interval!r}; existing cold buckets "
            "are aligned to the stored interval"
        )
    write_meta(conn, "rollup_interval_us", policy.rollup_interval_us)
    write_meta(conn, "hot_retention_us", policy.hot_retention_us)
    horizon = read_meta(conn, "horizon_us")
    if horizon is not None and horizon < _MIN_US:
        # Left by a version that committed a horizon before year 1: it rolled nothing up
        # (no point can be that old) and no datetime can show it, so it is dropped.
        conn.execute(_DELETE_META, ("horizon_us",))
    return policy
