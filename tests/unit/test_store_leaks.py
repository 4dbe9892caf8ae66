"""A store never leaves a SQLite connection open behind it (Python 3.13 warns of each one)."""

from __future__ import annotations

import gc
import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from backend.analytics.errors import StoreError
from backend.analytics.store import RetentionPolicy, SQLiteMetricStore


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[sqlite3.Connection]:
    """Every connection the store module opens during the test."""
    got: list[sqlite3.Connection] = []
    real = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn: sqlite3.Connection = real(*args, **kwargs)
        got.append(conn)
        return conn

    monkeypatch.setattr(sqlite3, "connect", connect)  # (the module the store's connections come from)
    return got


def is_closed(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        return True
    return False


def test_a_store_refused_at_open_closes_its_connection(
    tmp_path: Path, opened: list[sqlite3.Connection]
) -> None:
    db = tmp_path / "s.db"
    SQLiteMetricStore(db).close()
    with pytest.raises(ValueError, match="policy"):
        SQLiteMetricStore(db, policy=RetentionPolicy(rollup_interval=timedelta(hours=2)))
    text = tmp_path / "notes.txt"
    text.write_text("not a database, " * 100, encoding="utf-8")
    with pytest.raises(StoreError, match="file is not a database"):
        SQLiteMetricStore(text)
    other = tmp_path / "other.db"
    with closing(sqlite3.connect(other)) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(ValueError, match="of something else"):
        SQLiteMetricStore(other)
    assert len(opened) == 5  # (four by the stores, one by this test)
    assert all(is_closed(c) for c in opened)


def test_a_store_dropped_without_close_closes_its_connections_when_collected(
    tmp_path: Path, opened: list[sqlite3.Connection]
) -> None:
    store = SQLiteMetricStore(tmp_path / "s.db")
    store.list_tenants()
    assert opened and not any(is_closed(c) for c in opened)
    del store
    gc.collect()
    assert all(is_closed(c) for c in opened)
