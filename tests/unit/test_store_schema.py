"""Unit tests for the SQLite store's schema: versions, and migrating files written by older versions."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from backend.analytics import AggregatedAnomalyScore, AnomalyResult, AnomalyType
from backend.analytics.store import UNRECORDED_ENGINE, SQLiteMetricStore
from backend.analytics.store._schema import SCHEMA_VERSION

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
T0_US = 1_714_521_600_000_000
MIN_US = 60_000_000

# The DDL of schema version 1, verbatim as the store wrote it before it recorded engines (kept
# here, not imported, so that the test keeps building a real old file whatever the module becomes).
V1_DDL = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
    """CREATE TABLE IF NOT EXISTS series (
        series_id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, cluster_id TEXT NOT NULL,
        node_id TEXT NOT NULL, metric_name TEXT NOT NULL, metadata TEXT)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS series_key ON series (tenant_id, cluster_id, node_id, metric_name)",
    """CREATE TABLE IF NOT EXISTS hot_points (
        series_id INTEGER NOT NULL REFERENCES series (series_id), ts_us INTEGER NOT NULL,
        value REAL NOT NULL, PRIMARY KEY (series_id, ts_us)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS cold_buckets (
        series_id INTEGER NOT NULL REFERENCES series (series_id), bucket_start_us INTEGER NOT NULL,
        mean REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL,
        count INTEGER NOT NULL CHECK (count > 0), PRIMARY KEY (series_id, bucket_start_us)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS anomaly_results (
        tenant_id TEXT NOT NULL, cluster_id TEXT NOT NULL, node_id TEXT NOT NULL,
        metric_name TEXT NOT NULL, window_start_us INTEGER NOT NULL, window_end_us INTEGER NOT NULL,
        anomaly_score REAL NOT NULL, anomaly_label TEXT NOT NULL, magnitude REAL, explanation TEXT,
        PRIMARY KEY (tenant_id, cluster_id, node_id, metric_name, window_start_us, window_end_us)
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS aggregated_scores (
        tenant_id TEXT NOT NULL, computed_at_us INTEGER NOT NULL, cluster_id TEXT NOT NULL,
        node_id TEXT NOT NULL, aggregation_strategy TEXT NOT NULL, aggregate_score REAL NOT NULL,
        num_metrics_analyzed INTEGER NOT NULL, num_anomalies_detected INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, computed_at_us, cluster_id, node_id, aggregation_strategy)
    ) WITHOUT ROWID""",
)


def _v1_file(path: Path) -> None:
    """A database as schema version 1 left it: one series, two results, one aggregate, a horizon."""
    conn = sqlite3.connect(path)
    with conn:
        for statement in V1_DDL:
            conn.execute(statement)
        conn.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [
                ("schema_version", 1),
                ("rollup_interval_us", 600_000_000),
                ("hot_retention_us", 7_200_000_000),
            ],
        )
        conn.execute("INSERT INTO series VALUES (1, 'acme', 'c-1', 'n-1', 'cpu', '{\"unit\": \"%\"}')")
        conn.executemany(
            "INSERT INTO hot_points VALUES (1, ?, ?)", [(T0_US + k * MIN_US, float(k)) for k in range(3)]
        )
        conn.executemany(
            "INSERT INTO anomaly_results VALUES ('acme', 'c-1', 'n-1', 'cpu', ?, ?, ?, ?, 0.5, 'why')",
            [
                (T0_US, T0_US + 4 * MIN_US, 0.1, "normal"),
                (T0_US + 5 * MIN_US, T0_US + 9 * MIN_US, 0.9, "spike"),
            ],
        )
        conn.execute(
            "INSERT INTO aggregated_scores VALUES ('acme', ?, '', '', 'max', 0.9, 1, 1)", (T0_US,)
        )
    conn.close()


def test_new_file_records_the_schema_version(tmp_path: Path) -> None:
    """A new file carries the current version in meta and in PRAGMA user_version."""
    SQLiteMetricStore(tmp_path / "m.db").close()
    conn = sqlite3.connect(tmp_path / "m.db")
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        assert row[0] == SCHEMA_VERSION
    finally:
        conn.close()


def test_version_1_file_is_migrated_on_open(tmp_path: Path) -> None:
    """A file made by schema 1 opens: points, policy and results are kept, old rows get an engine."""
    path = tmp_path / "old.db"
    _v1_file(path)
    with SQLiteMetricStore(path) as store:
        assert store.policy.rollup_interval == timedelta(minutes=10)
        series = store.get_metric_series("acme", "c-1", "n-1", "cpu", T0, T0 + timedelta(hours=1))
        assert series.values.tolist() == [0.0, 1.0, 2.0]
        assert dict(series.metadata or {}) == {"unit": "%"}
        old = store.read_results("acme")
        assert [(r.anomaly_score, r.anomaly_label) for r in old] == [
            (0.1, AnomalyType.NORMAL),
            (0.9, AnomalyType.SPIKE),
        ]
        assert store.read_results("acme", engine=UNRECORDED_ENGINE) == old
        assert store.read_latest_results("acme", engine=UNRECORDED_ENGINE) == [old[1]]
        assert store.result_engines("acme") == [UNRECORDED_ENGINE]
        assert store.read_aggregates("acme", engine=UNRECORDED_ENGINE) == [
            AggregatedAnomalyScore("acme", None, None, "max", 0.9, 1, 1)
        ]
        # New results of a named engine on the same window live beside the migrated ones.
        store.write_results(
            [AnomalyResult("acme", "c-1", "n-1", "cpu", T0, T0 + 4 * timedelta(minutes=1), 0.7, "trend")],
            engine="combined",
        )
        assert len(store.read_results("acme")) == 3
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert not any(name.endswith("_v1") for name in tables)
    finally:
        conn.close()
    with SQLiteMetricStore(path) as again:  # a second open finds nothing to migrate
        assert len(again.read_results("acme")) == 3


def _as_version_2(path: Path) -> None:
    """Turn a current store file back into what schema version 2 left: no latest_results, no partial index."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DROP TABLE latest_results")
        conn.execute("DROP INDEX results_anomalous")
        conn.execute("UPDATE meta SET value = 2 WHERE key = 'schema_version'")
        conn.execute("PRAGMA user_version = 2")
    conn.close()


def test_version_2_file_gains_each_series_latest_result_on_open(tmp_path: Path) -> None:
    """Opening a version 2 file fills latest_results from its results: the latest reads as before."""
    path = tmp_path / "v2.db"
    minute = timedelta(minutes=1)
    windows = [(3, 4), (0, 9), (5, 4), (9, 0), (2, 7)]  # (start minute, length): latest end 9, then start 9
    with SQLiteMetricStore(path) as store:
        for engine in ("zscore", "novelty"):
            for node in ("n-1", "n-2"):
                spans = windows if engine == "zscore" else windows[:2]
                since = [T0 + s * minute for s, _ in spans]
                results = [
                    AnomalyResult("acme", "c-1", node, "cpu", at, at + n * minute, 0.1, AnomalyType.NORMAL)
                    for at, (_, n) in zip(since, spans, strict=True)
                ]
                store.write_results(results, engine=engine)
        every = {engine: store.read_results("acme", engine=engine) for engine in ("zscore", "novelty")}
    _as_version_2(path)
    with SQLiteMetricStore(path) as store:
        for engine, rows in every.items():
            latest: dict[str, AnomalyResult] = {}
            for r in rows:
                have = latest.get(r.node_id)
                if have is None or (r.window_end, r.window_start) > (have.window_end, have.window_start):
                    latest[r.node_id] = r
            assert store.read_latest_results("acme", engine=engine) == [latest["n-1"], latest["n-2"]]
        assert store.read_latest_results("acme", engine="zscore")[0].window_start == T0 + 9 * minute
        assert store.read_latest_results("acme", engine="novelty")[0].window_start == T0
        assert len(store.read_results("acme", anomalous_only=True)) == 0
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"latest_results", "results_anomalous"} <= names
    finally:
        conn.close()


def test_file_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    """A schema version above the current one raises ValueError naming both versions."""
    path = tmp_path / "new.db"
    SQLiteMetricStore(path).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION + 1,))
    conn.close()
    with pytest.raises(ValueError, match=rf"schema version {SCHEMA_VERSION + 1}, written by a newer"):
        SQLiteMetricStore(path)


@pytest.mark.parametrize("stored", [0, -1, "two"])
def test_a_schema_version_no_release_wrote_is_refused_by_name(tmp_path: Path, stored: object) -> None:
    path = tmp_path / "odd.db"
    SQLiteMetricStore(path).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (stored,))
    conn.close()
    with pytest.raises(ValueError, match=rf"odd\.db' has schema version {stored!r} in its meta table"):
        SQLiteMetricStore(path)


def test_a_database_of_another_application_is_left_alone(tmp_path: Path) -> None:
    """A SQLite file holding only other tables is refused before anything in it changes."""
    path = tmp_path / "crm.db"
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"crm\.db. is a SQLite database of something else \(its tables: c"):
        SQLiteMetricStore(path)
    assert path.read_bytes() == before
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()  # an empty database file becomes a store
    SQLiteMetricStore(empty).close()
