"""Per-thread connections and write transactions shared by the SQLite store's parts (internal).

:class:`_SQLiteConnections` opens one connection per thread on first use (WAL
journal, the chosen ``synchronous`` level, foreign keys on) and hands out
``BEGIN IMMEDIATE`` ... ``COMMIT`` write transactions that roll back on any
error. :class:`~backend.analytics.store.sqlite.SQLiteMetricStore` builds on it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TypeVar

__all__ = ["SYNCHRONOUS_LEVELS"]

_C = TypeVar("_C", bound="_SQLiteConnections")

SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")
_PRAGMA_SYNCHRONOUS = {
    "OFF": "PRAGMA synchronous = OFF",
    "NORMAL": "PRAGMA synchronous = NORMAL",
    "FULL": "PRAGMA synchronous = FULL",
    "EXTRA": "PRAGMA synchronous = EXTRA",
}


class _SQLiteConnections:
    """Connection and transaction plumbing; subclasses add the tables' methods."""

    path: str

    def __init__(self, path: str, *, synchronous: str, timeout: float) -> None:
        self.path = path
        self._synchronous = synchronous
        self._timeout = timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

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

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
