"""Unit tests for backend.analytics.store: SQLiteMetricStore, the retention policy, the protocols."""

from __future__ import annotations

import ast
import math
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from backend.analytics import (
    AnomalyResult,
    AnomalyType,
    MetricSeries,
)
from backend.analytics.store import (
    MetricStore,
    ResultSink,
    RetentionPolicy,
    SeriesKey,
    SeriesNotFoundError,
    SQLiteMetricStore,
    StoreError,
    _connection,
    _schema,
    _sink,
)
from backend.analytics.store import sqlite as sqlite_module
from backend.analytics.store.retention import bucket_start_us, robust_mean

T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
MIN = timedelta(minutes=1)
FAR = datetime(2100, 1, 1, tzinfo=timezone.utc)
EARLY = datetime(1970, 1, 1, tzinfo=timezone.utc)


def minutes(n: int, start: datetime = T0) -> list[datetime]:
    return [start + i * MIN for i in range(n)]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteMetricStore]:
    policy = RetentionPolicy(hot_retention=timedelta(hours=2), rollup_interval=timedelta(minutes=10))
    with SQLiteMetricStore(tmp_path / "m.db", policy=policy) as s:
        yield s


def read_all(store: SQLiteMetricStore, tenant: str = "acme", metric: str = "cpu") -> MetricSeries:
    return store.get_metric_series(tenant, "c-1", "n-1", metric, EARLY, FAR)


# -- protocols and basics ---------------------------------------------------------------------


def test_store_satisfies_both_protocols(store: SQLiteMetricStore) -> None:
    """SQLiteMetricStore is structurally a MetricStore and a ResultSink."""
    assert isinstance(store, MetricStore)
    assert isinstance(store, ResultSink)


def test_database_is_in_wal_mode(store: SQLiteMetricStore) -> None:
    """The database file uses the WAL journal."""
    conn = sqlite3.connect(store.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_new_file_gets_large_pages_and_an_existing_file_keeps_its_own(tmp_path: Path) -> None:
    """A new store file has 16 KiB pages; a file made with 4 KiB pages keeps them and works."""
    with SQLiteMetricStore(tmp_path / "new.db") as fresh:
        fresh.write_points("acme", "c-1", "n-1", "cpu", minutes(3), [1.0, 2.0, 3.0])
    old_path = tmp_path / "old.db"
    old = sqlite3.connect(old_path)
    old.execute("PRAGMA page_size = 4096")
    old.execute("PRAGMA journal_mode = WAL")  # fixes the page size, as an older store's open did
    old.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID")  # a store's
    old.execute("INSERT INTO meta VALUES ('schema_version', 2)")  # (what identifies a store's file)
    old.commit()
    old.close()
    with SQLiteMetricStore(old_path) as kept:
        kept.write_points("acme", "c-1", "n-1", "cpu", minutes(3), [1.0, 2.0, 3.0])
        assert read_all(kept).values.tolist() == [1.0, 2.0, 3.0]
    sizes = {}
    for name in ("new.db", "old.db"):
        conn = sqlite3.connect(tmp_path / name)
        try:
            sizes[name] = conn.execute("PRAGMA page_size").fetchone()[0]
        finally:
            conn.close()
    assert sizes == {"new.db": 16384, "old.db": 4096}


def test_round_trip_exact(store: SQLiteMetricStore) -> None:
    """Written points read back exactly, with microsecond timestamps and float values."""
    ts = [T0, T0 + timedelta(microseconds=1), T0 + MIN]
    vals = [0.1, -1e-300, 1.7976931348623157e308]
    assert store.write_points("acme", "c-1", "n-1", "cpu", ts, vals) == 3
    got = read_all(store)
    assert list(got.timestamps) == ts
    assert got.values.tolist() == vals
    assert got.ids == ("acme", "c-1", "n-1", "cpu")


def test_range_is_half_open(store: SQLiteMetricStore) -> None:
    """get_metric_series returns points with start <= t < end."""
    store.write_points("acme", "c-1", "n-1", "cpu", minutes(10), [float(i) for i in range(10)])
    got = store.get_metric_series("acme", "c-1", "n-1", "cpu", T0 + 2 * MIN, T0 + 5 * MIN)
    assert got.values.tolist() == [2.0, 3.0, 4.0]
    empty = store.get_metric_series("acme", "c-1", "n-1", "cpu", T0 + 2 * MIN, T0 + 2 * MIN)
    assert len(empty) == 0


def test_offsets_are_instants(store: SQLiteMetricStore) -> None:
    """Aware datetimes with any UTC offset address the same instants; reads come back in UTC."""
    plus2 = timezone(timedelta(hours=2))
    store.write_points("acme", "c-1", "n-1", "cpu", [T0.astimezone(plus2)], [1.0])
    got = store.get_metric_series("acme", "c-1", "n-1", "cpu", T0.astimezone(plus2), T0 + MIN)
    assert got.timestamps[0] == T0
    assert got.timestamps[0].utcoffset() == timedelta(0)


@pytest.mark.parametrize("arg", ["start", "end"])
def test_naive_range_rejected_naming_argument(store: SQLiteMetricStore, arg: str) -> None:
    """A naive start or end raises ValueError naming the argument."""
    store.write_points("acme", "c-1", "n-1", "cpu", [T0], [1.0])
    bounds = {"start": T0, "end": FAR}
    bounds[arg] = bounds[arg].replace(tzinfo=None)
    with pytest.raises(ValueError, match=rf"get_metric_series: {arg} must be a timezone-aware datetime"):
        store.get_metric_series("acme", "c-1", "n-1", "cpu", bounds["start"], bounds["end"])


def test_reversed_range_rejected(store: SQLiteMetricStore) -> None:
    """start > end raises ValueError showing both."""
    store.write_points("acme", "c-1", "n-1", "cpu", [T0], [1.0])
    with pytest.raises(ValueError, match="start must be <= end"):
        store.get_metric_series("acme", "c-1", "n-1", "cpu", FAR, T0)


def test_unknown_series_raises_keyerror_with_ids(store: SQLiteMetricStore) -> None:
    """An unknown series raises SeriesNotFoundError (a KeyError) naming its ids, unquoted."""
    with pytest.raises(KeyError) as info:
        store.get_metric_series("acme", "c-1", "n-1", "nope", T0, FAR)
    assert isinstance(info.value, SeriesNotFoundError)
    assert str(info.value) == (
        "no series metric_name='nope' node_id='n-1' cluster_id='c-1' for tenant_id='acme'"
    )


def test_invalid_points_rejected_with_series_messages(store: SQLiteMetricStore) -> None:
    """write_points validates like MetricSeries: field and index in the message, nothing written."""
    with pytest.raises(ValueError, match=r"MetricSeries.values\[1\]: expected a finite number, got nan"):
        store.write_points("acme", "c-1", "n-1", "cpu", minutes(2), [1.0, math.nan])
    with pytest.raises(ValueError, match=r"MetricSeries.timestamps\[0\]: expected a timezone-aware"):
        store.write_points("acme", "c-1", "n-1", "cpu", [T0.replace(tzinfo=None)], [1.0])
    with pytest.raises(ValueError, match="tenant_id must be a non-empty str"):
        store.write_points("", "c-1", "n-1", "cpu", [T0], [1.0])
    assert store.list_series("acme") == []


def test_list_series_filters_and_sorts(store: SQLiteMetricStore) -> None:
    """list_series returns the tenant's keys sorted, optionally by cluster and node."""
    keys = [("c-2", "n-1", "mem"), ("c-1", "n-2", "cpu"), ("c-1", "n-1", "mem"), ("c-1", "n-1", "cpu")]
    for c, n, m in keys:
        store.write_points("acme", c, n, m, [T0], [1.0])
    store.write_points("other", "c-1", "n-1", "cpu", [T0], [1.0])
    assert store.list_series("acme") == [
        SeriesKey("acme", "c-1", "n-1", "cpu"),
        SeriesKey("acme", "c-1", "n-1", "mem"),
        SeriesKey("acme", "c-1", "n-2", "cpu"),
        SeriesKey("acme", "c-2", "n-1", "mem"),
    ]
    assert [k.node_id for k in store.list_series("acme", "c-1")] == ["n-1", "n-1", "n-2"]
    assert store.list_series("acme", "c-1", "n-2") == [SeriesKey("acme", "c-1", "n-2", "cpu")]
    assert store.list_series("nobody") == []
    with pytest.raises(ValueError, match="node_id 'n-1' given without a cluster_id"):
        store.list_series("acme", None, "n-1")


def test_metadata_round_trips_and_last_nonempty_wins(store: SQLiteMetricStore) -> None:
    """Series metadata is stored; a non-empty write replaces it, an empty one keeps it."""
    store.write_points("acme", "c-1", "n-1", "cpu", [T0], [1.0], metadata={"unit": "%"})
    store.write_points("acme", "c-1", "n-1", "cpu", [T0 + MIN], [2.0])
    assert dict(read_all(store).metadata or {}) == {"unit": "%"}
    store.write_points("acme", "c-1", "n-1", "cpu", [T0 + 2 * MIN], [2.0], metadata={"unit": "ratio"})
    assert dict(read_all(store).metadata or {}) == {"unit": "ratio"}


def test_memory_path_refused(tmp_path: Path) -> None:
    """':memory:' is refused: each thread opens its own connection, so it needs a file."""
    with pytest.raises(ValueError, match="path must be a database file path"):
        SQLiteMetricStore(":memory:")


def test_closed_store_refuses_use(tmp_path: Path) -> None:
    """After close(), calls raise ValueError instead of reopening silently."""
    s = SQLiteMetricStore(tmp_path / "m.db")
    s.close()
    s.close()
    with pytest.raises(ValueError, match="is closed"):
        s.list_series("acme")


# -- atomicity and idempotency ----------------------------------------------------------------


def test_rewrite_is_idempotent_last_write_wins(store: SQLiteMetricStore) -> None:
    """Writing the same (series, timestamp) twice keeps one point with the last value."""
    store.write_points("acme", "c-1", "n-1", "cpu", minutes(3), [1.0, 2.0, 3.0])
    store.write_points("acme", "c-1", "n-1", "cpu", minutes(3), [1.0, 2.0, 3.0])
    store.write_points("acme", "c-1", "n-1", "cpu", [T0 + MIN], [20.0])
    got = read_all(store)
    assert got.values.tolist() == [1.0, 20.0, 3.0]
    assert store.tier_counts() == {"hot": 3, "cold": 0}


def test_batch_lands_whole_or_not_at_all(store: SQLiteMetricStore) -> None:
    """A database error on a late row rolls back every earlier row of the batch."""
    store.write_points("acme", "c-1", "n-1", "cpu", [T0], [0.0])
    conn = sqlite3.connect(store.path)
    conn.execute(
        "CREATE TRIGGER fail_666 BEFORE INSERT ON hot_points WHEN NEW.value = 666 "
        "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
    )
    conn.commit()
    conn.close()
    first = MetricSeries("acme", "c-1", "n-1", "cpu", minutes(5, T0 + MIN), [1.0] * 5)
    second = MetricSeries("acme", "c-1", "n-2", "cpu", minutes(3), [1.0, 666.0, 1.0])
    with pytest.raises(StoreError, match=r"write_batch: the database .* failed: IntegrityError") as info:
        store.write_batch([first, second])
    assert isinstance(info.value.__cause__, sqlite3.IntegrityError)
    assert read_all(store).values.tolist() == [0.0]
    assert store.list_series("acme") == [SeriesKey("acme", "c-1", "n-1", "cpu")]
    # The store is still usable after the rollback.
    assert store.write_batch([first]) == 5


def test_bad_item_in_lazy_batch_rolls_back(store: SQLiteMetricStore) -> None:
    """A non-series item (or an error raised by a lazy batch) rolls back what came before."""
    good = MetricSeries("acme", "c-1", "n-1", "cpu", minutes(3), [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match=r"batch\[1\] must be a MetricSeries, got 'oops' \(str\)"):
        store.write_batch([good, "oops"])  # type: ignore[list-item]

    def exploding() -> Iterator[MetricSeries]:
        yield good
        raise RuntimeError("producer died")

    with pytest.raises(RuntimeError, match="producer died"):
        store.write_batch(exploding())
    assert store.list_series("acme") == []


def test_foreign_keys_hold_and_are_checked_again_after_a_write(store: SQLiteMetricStore) -> None:
    """Bulk writes skip the per-point key check (each point's series row is written first, in the
    same transaction); the check is back on afterwards, after a failed batch too, and no point
    ever lacks its series."""
    good = MetricSeries("acme", "c-1", "n-1", "cpu", minutes(3), [1.0, 2.0, 3.0])

    def exploding() -> Iterator[MetricSeries]:
        yield good
        raise RuntimeError("producer died")

    with pytest.raises(RuntimeError, match="producer died"):
        store.write_batch(exploding())
    assert store.write_batch([good]) == 3
    conn = store._conn()
    assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        conn.execute("INSERT INTO hot_points (series_id, ts_us, value) VALUES (987654, 1, 1.0)")


# -- retention and tiers ----------------------------------------------------------------------


def test_retention_rolls_old_points_into_buckets(store: SQLiteMetricStore) -> None:
    """Points older than the horizon become one mean point per bucket; recent points stay raw."""
    vals = [float(i) for i in range(60)]
    store.write_points("acme", "c-1", "n-1", "cpu", minutes(60), vals)
    # hot_retention 2 h, 10-minute buckets: now = T0 + 2h30m -> horizon = T0 + 30m.
    report = store.apply_retention(T0 + timedelta(hours=2, minutes=30))
    assert report.horizon == T0 + timedelta(minutes=30)
    assert (report.points_rolled_up, report.buckets_written, report.series_touched) == (30, 3, 1)
    got = read_all(store)
    expected_ts = [T0, T0 + 10 * MIN, T0 + 20 * MIN, *minutes(30, T0 + 30 * MIN)]
    assert list(got.timestamps) == expected_ts
    assert got.values.tolist() == [4.5, 14.5, 24.5, *vals[30:]]
    assert store.tier_counts() == {"hot": 30, "cold": 3}
    buckets = store.get_rollup_buckets("acme", "c-1", "n-1", "cpu", EARLY, FAR)
    assert [(b.start, b.mean, b.min, b.max, b.count) for b in buckets] == [
        (T0, 4.5, 0.0, 9.0, 10),
        (T0 + 10 * MIN, 14.5, 10.0, 19.0, 10),
        (T0 + 20 * MIN, 24.5, 20.0, 29.0, 10),
    ]


def test_query_spans_tiers_by_bucket_start(store: SQLiteMetricStore) -> None:
    """A range across the horizon returns cold buckets whose start is inside, then hot points."""
    store.write_points("acme", "c-1", "n-1", "cpu", minutes(60), [float(i) for i in range(60)])
    store.apply_retention(T0 + timedelta(hours=2, minutes=30))
    got = store.get_metric_series("acme", "c-1", "n-1", "cpu", T0 + 5 * MIN, T0 + 32 * MIN)
    assert list(got.timestamps) == [T0 + 10 * MIN, T0 + 20 * MIN, T0 + 30 * MIN, T0 + 31 * MIN]
    assert got.values.tolist() == [14.5, 24.5, 30.0, 31.0]


def test_horizon_never_moves_back_and_old_writes_are_rejected(store: SQLiteMetricStore) -> None:
    """After a rollup, writes before the horizon raise ValueError; an earlier now is a no-op."""
    store.write_points("acme", "c-1", "n-1", "cpu", minutes(60), [1.0] * 60)
    store.apply_retention(T0 + timedelta(hours=2, minutes=30))
    again = store.apply_retention(T0)
    assert again.horizon == T0 + 30 * MIN and again.points_rolled_up == 0
    with pytest.raises(ValueError, match=r"write_points: timestamps\[0\]: expected a timestamp at or after"):
        store.write_points("acme", "c-1", "n-1", "cpu", [T0 + 29 * MIN, T0 + 61 * MIN], [5.0, 5.0])
    assert store.tier_counts() == {"hot": 30, "cold": 3}
    store.write_points("acme", "c-1", "n-1", "cpu", [T0 + 30 * MIN], [7.0])  # at the horizon: fine


def test_policy_persists_and_interval_is_fixed(tmp_path: Path) -> None:
    """The rollup interval is stored with the database; reopening with another one is refused."""
    path = tmp_path / "m.db"
    policy = RetentionPolicy(hot_retention=timedelta(days=1), rollup_interval=timedelta(minutes=5))
    SQLiteMetricStore(path, policy=policy).close()
    with SQLiteMetricStore(path) as again:
        assert again.policy == policy
    with pytest.raises(ValueError, match="rollup_interval must match the database's"):
        SQLiteMetricStore(path, policy=RetentionPolicy(rollup_interval=timedelta(hours=1)))


def test_retention_policy_validation() -> None:
    """RetentionPolicy rejects non-positive or non-timedelta settings."""
    with pytest.raises(ValueError, match=r"hot_retention must be a positive datetime\.timedelta"):
        RetentionPolicy(hot_retention=timedelta(0))
    with pytest.raises(TypeError, match=r"rollup_interval must be a positive datetime\.timedelta"):
        RetentionPolicy(rollup_interval=3600)  # type: ignore[arg-type]


def test_bucket_math_and_robust_mean() -> None:
    """Buckets floor towards minus infinity; the mean is exact-summed and never overflows."""
    assert bucket_start_us(-1, 10) == -10
    assert bucket_start_us(25, 10) == 20
    assert robust_mean([1e308, 1e308, 1e308]) == 1e308
    assert robust_mean([0.1] * 10) == 0.1
    with pytest.raises(ValueError, match="non-empty"):
        robust_mean([])


# -- query plans and SQL hygiene --------------------------------------------------------------


def test_range_query_uses_primary_keys(store: SQLiteMetricStore) -> None:
    """EXPLAIN QUERY PLAN: both tiers are searched by (series_id, ts) primary key, never scanned."""
    store.write_points("acme", "c-1", "n-1", "cpu", minutes(10), [1.0] * 10)
    conn = sqlite3.connect(store.path)
    try:
        explain = "EXPLAIN QUERY PLAN "
        plan = [row[-1] for row in conn.execute(explain + sqlite_module._SELECT_RANGE, (1,) * 6)]
        lookup = [row[-1] for row in conn.execute(explain + sqlite_module._SELECT_SERIES, ("a",) * 4)]
    finally:
        conn.close()
    text = "\n".join(plan)
    assert re.search(r"SEARCH cold_buckets USING PRIMARY KEY \(series_id=\? AND bucket_start_us>\? AND", text)
    assert re.search(r"SEARCH hot_points USING PRIMARY KEY \(series_id=\? AND ts_us>\? AND ts_us<\?\)", text)
    assert "MERGE (UNION ALL)" in text  # both tiers come back already ordered: no sort step
    assert "SCAN" not in text and "TEMP B-TREE" not in text  # no table scan, no sort
    assert any("USING INDEX series_key" in line or "COVERING INDEX series_key" in line for line in lookup)


_SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|WHERE|VALUES|PRAGMA|CREATE)\b", re.IGNORECASE)


@pytest.mark.parametrize("module", [sqlite_module, _sink, _schema, _connection], ids=lambda m: m.__name__)
def test_sql_is_parameterised_only(module: object) -> None:
    """No SQL text in the store is built by formatting: no f-string, %, + or .format with SQL in it,
    and every execute() gets a constant (a module-level name or a literal) as its statement."""
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    constants = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            literal = "".join(str(v.value) for v in node.values if isinstance(v, ast.Constant))
            assert not _SQL_WORDS.search(literal) or "must" in literal or "got" in literal, ast.unparse(node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mod, ast.Add)):
            for side in (node.left, node.right):
                if isinstance(side, ast.Constant) and isinstance(side.value, str):
                    assert not _SQL_WORDS.search(side.value), ast.unparse(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "format" and isinstance(node.func.value, ast.Constant):
                assert not _SQL_WORDS.search(str(node.func.value.value)), ast.unparse(node)
            if node.func.attr in {"execute", "executemany", "executescript"}:
                stmt = node.args[0]
                ok = (isinstance(stmt, ast.Constant) and isinstance(stmt.value, str)) or (
                    isinstance(stmt, ast.Name) and (stmt.id in constants or stmt.id == "statement")
                )
                ok = ok or (
                    isinstance(stmt, ast.Subscript)
                    and isinstance(stmt.value, ast.Name)
                    and stmt.value.id in constants
                )
                assert ok, f"line {node.lineno}: execute() with a non-constant statement {ast.unparse(stmt)}"


# -- tenant isolation -------------------------------------------------------------------------


def test_tenants_never_see_each_other(store: SQLiteMetricStore) -> None:
    """Equal cluster/node/metric names in two tenants are two series; neither reads the other."""
    store.write_points("acme", "c-1", "n-1", "cpu", minutes(3), [1.0, 2.0, 3.0])
    store.write_points("zeta", "c-1", "n-1", "cpu", minutes(3), [7.0, 8.0, 9.0])
    store.write_results(
        [AnomalyResult("zeta", "c-1", "n-1", "cpu", T0, T0 + MIN, 0.9, AnomalyType.SPIKE)], engine="zscore"
    )
    store.apply_retention(T0 + timedelta(hours=3))
    assert read_all(store, "acme").values.tolist() == [2.0]
    assert read_all(store, "zeta").values.tolist() == [8.0]
    assert store.read_results("acme") == []
    with pytest.raises(SeriesNotFoundError):
        store.get_metric_series("nobody", "c-1", "n-1", "cpu", EARLY, FAR)
    assert {k.tenant_id for k in store.list_series("acme")} == {"acme"}


# -- issue 14: hostile arguments, time range and sizes (each measured failure, reproduced) ---------


@pytest.mark.parametrize("timeout", [math.nan, -1, 0, math.inf, -math.inf, 10**400])
def test_bad_timeout_is_a_value_error(tmp_path: Path, timeout: float) -> None:
    """timeout must be a positive finite number of seconds (nan, -1, inf used to be accepted)."""
    with pytest.raises(
        ValueError, match=r"SQLiteMetricStore: timeout must be a positive finite number of seconds, got"
    ):
        SQLiteMetricStore(tmp_path / "m.db", timeout=timeout)
    assert not (tmp_path / "m.db").exists()


@pytest.mark.parametrize("timeout", ["abc", None, True])
def test_timeout_of_wrong_type_is_a_type_error(tmp_path: Path, timeout: object) -> None:
    """A str, None or bool timeout is a TypeError naming the field (not a bare float() error)."""
    with pytest.raises(TypeError, match=r"timeout must be a positive finite number of seconds, got .* \("):
        SQLiteMetricStore(tmp_path / "m.db", timeout=timeout)  # type: ignore[arg-type]


def test_directory_as_path_is_a_value_error(tmp_path: Path) -> None:
    """A directory as the path is a ValueError, not a raw sqlite3.OperationalError."""
    with pytest.raises(ValueError, match="path must be a database file path, not a directory"):
        SQLiteMetricStore(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        SQLiteMetricStore(tmp_path / "missing" / "m.db")


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    """Opening a file that is not SQLite raises StoreError chained from the sqlite3 error."""
    path = tmp_path / "notes.txt"
    path.write_bytes(b"this is not a database, just text, long enough to fill a header" * 20)
    with pytest.raises(StoreError, match=r"SQLiteMetricStore: the database .*notes\.txt' failed") as info:
        SQLiteMetricStore(path)
    assert isinstance(info.value.__cause__, sqlite3.DatabaseError)


def test_lock_held_elsewhere_is_a_store_error(tmp_path: Path) -> None:
    """With the write lock held elsewhere past timeout, writes raise StoreError, not a raw sqlite3 error."""
    path = tmp_path / "m.db"
    store = SQLiteMetricStore(path, timeout=0.05)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(
            StoreError, match=r"write_points: the database .* is locked.*timeout=0\.05 s"
        ) as info:
            store.write_points("acme", "c-1", "n-1", "cpu", [T0], [1.0])
        assert isinstance(info.value.__cause__, sqlite3.OperationalError)
        with SQLiteMetricStore(path, timeout=0.05) as reader:  # a current file opens without writing
            assert reader.list_series("acme") == []
        longer = RetentionPolicy(hot_retention=timedelta(days=30))
        with pytest.raises(StoreError, match=r"SQLiteMetricStore: the database .* is locked"):
            SQLiteMetricStore(path, timeout=0.05, policy=longer)  # a new policy is written: the lock
        assert store.list_series("acme") == []  # reads go on (WAL)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.write_points("acme", "c-1", "n-1", "cpu", [T0], [1.0]) == 1  # retried: fine
    store.close()


def test_result_at_year_one_reads_back(store: SQLiteMetricStore) -> None:
    """A result at the first UTC instant writes and reads back (reads of the tenant used to overflow)."""
    first = datetime.min.replace(tzinfo=timezone.utc)
    r = AnomalyResult("acme", "c-1", "n-1", "cpu", first, first + MIN, 0.9, AnomalyType.SPIKE)
    store.write_results([r], engine="zscore")
    assert store.read_results("acme") == [r]
    assert store.read_results("acme", end=first + MIN) == [r]


def test_retention_before_year_one_changes_nothing(store: SQLiteMetricStore) -> None:
    """apply_retention with a horizon before year 1 is a no-op (it used to commit it, then overflow)."""
    store.write_points("acme", "c-1", "n-1", "cpu", minutes(3), [1.0, 2.0, 3.0])
    report = store.apply_retention(datetime(1, 1, 1, 1, tzinfo=timezone.utc))
    assert (report.horizon, report.points_rolled_up) == (None, 0)
    assert store.horizon is None
    assert read_all(store).values.tolist() == [1.0, 2.0, 3.0]


def test_first_bucket_of_the_calendar_starts_at_year_one(tmp_path: Path) -> None:
    """Points in year 1 roll into a bucket starting at 0001-01-01T00:00Z (its aligned start is earlier)."""
    first = datetime.min.replace(tzinfo=timezone.utc)
    policy = RetentionPolicy(hot_retention=timedelta(days=1), rollup_interval=timedelta(days=7))
    with SQLiteMetricStore(tmp_path / "m.db", policy=policy) as store:
        store.write_points("acme", "c-1", "n-1", "cpu", [first, first + timedelta(hours=1)], [1.0, 3.0])
        report = store.apply_retention(first + timedelta(days=30))
        assert report.points_rolled_up == 2
        buckets = store.get_rollup_buckets("acme", "c-1", "n-1", "cpu", first, FAR)
        assert [(b.start, b.mean, b.count) for b in buckets] == [(first, 2.0, 2)]
        assert store.get_metric_series("acme", "c-1", "n-1", "cpu", first, FAR).timestamps[0] == first


def test_stored_horizon_before_year_one_is_dropped_on_open(tmp_path: Path) -> None:
    """A horizon before year 1 left by an earlier version is removed on open; store.horizon works."""
    path = tmp_path / "m.db"
    SQLiteMetricStore(path).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO meta VALUES ('horizon_us', ?)", (-62_135_596_800_000_000 - 10**12,))
    conn.close()
    with SQLiteMetricStore(path) as store:
        assert store.horizon is None


@pytest.mark.parametrize("field", ["hot_retention", "rollup_interval"])
def test_retention_policy_longer_than_the_calendar_is_a_value_error(field: str) -> None:
    """A timedelta beyond the span of years 1..9999 (timedelta.max) is a ValueError naming the field."""
    with pytest.raises(ValueError, match=rf"RetentionPolicy: {field} must be at most 3652058 days"):
        RetentionPolicy(**{field: timedelta.max})


def test_very_long_retention_survives_a_reopen(tmp_path: Path) -> None:
    """hot_retention of 3,000,000 days is stored and read back on reopen (it used to overflow)."""
    policy = RetentionPolicy(hot_retention=timedelta(days=3_000_000))
    SQLiteMetricStore(tmp_path / "m.db", policy=policy).close()
    with SQLiteMetricStore(tmp_path / "m.db") as again:
        assert again.policy == policy
        assert again.apply_retention(FAR).points_rolled_up == 0


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("a\x00b.db", "path must be a file path without NUL characters"),
        ("\ud800.db", "path must be Unicode text"),
    ],
)
def test_unopenable_path_text_is_a_value_error(tmp_path: Path, path: str, message: str) -> None:
    """A NUL or a lone surrogate in the path: a ValueError naming it (not os/sqlite3's bare errors)."""
    with pytest.raises(ValueError, match=message):
        SQLiteMetricStore(str(tmp_path / path))


def test_a_stored_result_that_is_not_valid_names_its_row(store: SQLiteMetricStore) -> None:
    """A row whose label contradicts its score (an engine that alarmed below 0.5) is named when read."""
    r = AnomalyResult("acme", "c-1", "n-1", "cpu", T0, T0 + MIN, 0.9, AnomalyType.SPIKE)
    store.write_results([r], engine="zscore")
    conn = store._conn()
    with conn:
        conn.execute("UPDATE anomaly_results SET anomaly_score = 0.4")
    with pytest.raises(
        ValueError,
        match=r"read_results: the stored result of acme/c-1/n-1/cpu at 2024-05-01T00:00:00\+00:00 is not a "
        r"valid AnomalyResult \(AnomalyResult: anomaly_label must be 'normal' exactly when",
    ):
        store.read_results("acme")


def test_read_results_refuses_a_range_that_ends_before_it_starts(store: SQLiteMetricStore) -> None:
    with pytest.raises(ValueError, match=r"read_results: start must be <= end, got start=2024-05-01 00:01"):
        store.read_results("acme", start=T0 + MIN, end=T0)
    assert store.read_results("acme", start=T0, end=T0) == []


def test_a_current_store_opens_and_reads_where_nothing_may_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening a current file with its own policy writes nothing: a read-only copy opens and reads.

    (SQLite's query_only stands in for a file the process may not write, which root cannot make.)
    """
    path = tmp_path / "m.db"
    with SQLiteMetricStore(path) as store:
        store.write_points("acme", "c-1", "n-1", "cpu", minutes(3), [1.0, 2.0, 3.0])
    from backend.analytics.store import _connection

    opened = _connection.open_connection

    def read_only(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = opened(*args, **kwargs)
        conn.execute("PRAGMA query_only = ON")
        return conn

    monkeypatch.setattr(_connection, "open_connection", read_only)
    with SQLiteMetricStore(path) as copy:
        assert read_all(copy).values.tolist() == [1.0, 2.0, 3.0]
        assert copy.list_tenants() == ["acme"]
        with pytest.raises(StoreError, match="readonly"):
            copy.write_points("acme", "c-1", "n-1", "cpu", [T0 + 5 * MIN], [4.0])
    with pytest.raises(StoreError, match="readonly"):
        SQLiteMetricStore(tmp_path / "new.db")  # a new file must be written: refused, by name


def test_a_store_does_not_cross_a_fork(tmp_path: Path) -> None:
    """A store used in a forked child raises, naming both processes: its writes through the parent's
    connection were reported done and lost once the parent closed the store (the WAL deleted under it)."""
    import os

    store = SQLiteMetricStore(tmp_path / "s.db")
    store.write_points("a", "c", "n", "m", [T0], [0.0])
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what using the inherited store did, then leave at once
        os.close(read)
        try:
            store.write_points("a", "c", "n", "m", [T0 + timedelta(minutes=1)], [1.0])
            os.write(write, b"written")
        except ValueError as exc:
            os.write(write, str(exc).encode()[:400])
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        told = fh.read().decode()
    os.waitpid(pid, 0)
    assert f"was opened in process {os.getpid()} and is used in process {pid}, a fork of it" in told
    assert store.get_whole_series("a", "c", "n", "m").values.tolist() == [0.0]
    store.close()


def test_another_applications_database_is_refused_even_with_a_table_name_of_ours(tmp_path: Path) -> None:
    """A "meta" or "series" table of another application is not a store: refused before its journal
    mode is switched or a table is added (it was opened and given eight tables)."""
    for name, ddl in (
        ("meta.db", ["CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER)", "CREATE TABLE orders (id)"]),
        ("series.db", ["CREATE TABLE series (id INTEGER PRIMARY KEY, name TEXT)"]),
        ("kv.db", ["CREATE TABLE meta (name TEXT, data BLOB)"]),
    ):
        path = tmp_path / name
        conn = sqlite3.connect(path)
        for statement in ddl:
            conn.execute(statement)
        conn.commit()
        conn.close()
        with pytest.raises(ValueError, match="is a SQLite database of something else"):
            SQLiteMetricStore(path)
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert len(conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()) == len(ddl)
        conn.close()


def test_a_series_written_without_points_keeps_its_metadata(tmp_path: Path) -> None:
    """write_points with metadata and no points registered nothing (a later read: SeriesNotFoundError)."""
    with SQLiteMetricStore(tmp_path / "s.db") as store:
        assert store.write_points("a", "c", "n", "cpu", [], [], metadata={"unit": "%"}) == 0
        got = store.get_whole_series("a", "c", "n", "cpu")
        assert len(got) == 0 and got.metadata == {"unit": "%"}
        assert store.write_points("a", "c", "n", "mem", [], []) == 0
        with pytest.raises(KeyError):
            store.get_whole_series("a", "c", "n", "mem")


def test_a_read_sees_the_points_and_the_metadata_of_one_commit(tmp_path: Path) -> None:
    """A write committed between the reader's two statements (forced here) gave points of one commit
    with metadata of another: one read transaction now."""
    writer = SQLiteMetricStore(tmp_path / "s.db")
    reader = SQLiteMetricStore(tmp_path / "s.db")
    stamps = minutes(3)
    writer.write_points("a", "c", "n", "latency", stamps, [0.1, 0.2, 0.3], metadata={"unit": "s"})
    conn = reader._conn()
    fired: list[int] = []

    def between(sql: str) -> None:
        if "FROM hot_points" in sql and not fired:
            fired.append(1)
            new = [100.0, 200.0, 300.0]
            writer.write_points("a", "c", "n", "latency", stamps, new, metadata={"unit": "x"})

    conn.set_trace_callback(between)
    got = reader.get_whole_series("a", "c", "n", "latency")
    conn.set_trace_callback(None)
    assert fired and (got.values.tolist(), got.metadata) == ([0.1, 0.2, 0.3], {"unit": "s"})
    again = reader.get_whole_series("a", "c", "n", "latency")
    assert (again.values.tolist(), again.metadata) == ([100.0, 200.0, 300.0], {"unit": "x"})
    writer.close()
    reader.close()


def test_a_timeout_sqlite_cannot_hold_is_refused() -> None:
    """SQLite takes the busy timeout in int milliseconds: 1e9 s wrapped and the store did not wait at all."""
    from backend.analytics.store._connection import check_timeout

    assert check_timeout("S", 2_147_483.647) == 2_147_483.647
    with pytest.raises(ValueError, match=r"up to 2,147,483.647 \(24.8 days\)"):
        check_timeout("S", 1e9)
