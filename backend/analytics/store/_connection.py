"""Per-thread connections and write transactions shared by the SQLite store's parts (internal).

:class:`_SQLiteConnections` opens one connection per thread on first use (WAL
journal, the chosen ``synchronous`` level, foreign keys on) and hands out
``BEGIN IMMEDIATE`` ... ``COMMIT`` write transactions that roll back on any
error. :class:`~backend.analytics.store.sqlite.SQLiteMetricStore` builds on it.

:func:`wraps_sqlite_errors` marks a public method: a ``sqlite3.Error`` raised
inside it reaches the caller as :class:`~backend.analytics.errors.StoreError`,
naming the method and the file, with the original as ``__cause__``.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import ParamSpec, TypeVar

from ..errors import StoreError

__all__ = ["SYNCHRONOUS_LEVELS", "wraps_sqlite_errors"]

_C = TypeVar("_C", bound="_SQLiteConnections")
_P = ParamSpec("_P")
_R = TypeVar("_R")

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


def _store_error(store: object, method: str, exc: sqlite3.Error) -> StoreError:
    owner = "SQLiteMetricStore" if method == "__init__" else f"SQLiteMetricStore.{method}"
    path = getattr(store, "path", "?")
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        timeout = getattr(store, "_timeout", "?")
        return StoreError(
            f"{owner}: the database {path!r} is locked: another connection held it for longer than "
            f"timeout={timeout} s ({exc}); nothing was written, the call may be retried"
        )
    return StoreError(f"{owner}: the database {path!r} failed: {type(exc).__name__}: {exc}")


def wraps_sqlite_errors(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """Turn a ``sqlite3.Error`` raised by ``method`` into a :class:`StoreError` chained from it."""

    @functools.wraps(method)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(*args, **kwargs)
        except sqlite3.Error as exc:
            raise _store_error(args[0], method.__name__, exc) from exc

    return wrapper
