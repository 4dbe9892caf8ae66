"""Connections and write transactions of the SQLite files this library writes (internal).

:func:`check_database_path` and :func:`check_timeout` validate a file path and
a lock timeout; :func:`open_connection` opens a connection (16 KiB pages for
a new file, WAL journal, the chosen ``synchronous`` level, foreign keys on); :func:`write_transaction` is a
``BEGIN IMMEDIATE`` ... ``COMMIT`` that rolls back on any error.
:class:`_SQLiteConnections` keeps one connection per thread and hands out
those transactions; :class:`~backend.analytics.store.sqlite.SQLiteMetricStore`
builds on it, and the live detectors' checkpoint file uses the same pieces.

:func:`wraps_sqlite_errors` marks a public method: a ``sqlite3.Error`` raised
inside it reaches the caller as :class:`~backend.analytics.errors.StoreError`,
naming the class, the method and the file, with the original as ``__cause__``.
"""

from __future__ import annotations

import functools
import math
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import ParamSpec, TypeVar

from .._validate import check_text, fail_type, fail_value
from ..errors import StoreError

__all__ = [
    "SYNCHRONOUS_LEVELS",
    "check_database_path",
    "check_timeout",
    "open_connection",
    "wraps_sqlite_errors",
    "write_transaction",
]

_C = TypeVar("_C", bound="_SQLiteConnections")
_P = ParamSpec("_P")
_R = TypeVar("_R")

SYNCHRONOUS_LEVELS = ("OFF", "NORMAL", "FULL", "EXTRA")
# The page size of a file this library creates. Points arrive in long runs per
# series, so larger pages mean fewer B-tree splits: a bulk write_batch of
# 256,000 points ran at 1.15 M points/s with 16 KiB pages against 1.00 M with
# SQLite's default 4 KiB (median of 9 interleaved runs, 2026-12-06). A file's
# page size is fixed once it holds a table; an existing file keeps its own.
_PRAGMA_PAGE_SIZE = "PRAGMA page_size = 16384"
_PRAGMA_SYNCHRONOUS = {
    "OFF": "PRAGMA synchronous = OFF",
    "NORMAL": "PRAGMA synchronous = NORMAL",
    "FULL": "PRAGMA synchronous = FULL",
    "EXTRA": "PRAGMA synchronous = EXTRA",
}


def check_database_path(owner: str, path: object) -> str:
    """``path`` as a str if it names a database file that can be created (not a URI, a directory, ...)."""
    if not isinstance(path, (str, os.PathLike)):
        fail_type(owner, "path", "a str or os.PathLike file path", path)
    path_text = os.fspath(path)
    if not isinstance(path_text, str):
        fail_type(owner, "path", "a str or os.PathLike file path", path)
    if path_text in ("", ":memory:") or path_text.startswith("file:"):
        fail_value(owner, "path", "a database file path (not ':memory:' or a URI)", path)
    if "\x00" in path_text:
        fail_value(owner, "path", "a file path without NUL characters", path)
    check_text(owner, "path", path_text)  # SQLite opens paths as UTF-8
    if os.path.isdir(path_text):
        fail_value(owner, "path", "a database file path, not a directory", path)
    parent = os.path.dirname(os.path.abspath(path_text))
    if not os.path.isdir(parent):
        fail_value(owner, "path", f"a file in an existing directory ({parent!r} does not exist)", path)
    return path_text


def check_timeout(owner: str, timeout: object) -> float:
    """``timeout`` as a float if it is a positive finite number of seconds."""
    seconds = "a positive finite number of seconds"
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        fail_type(owner, "timeout", seconds, timeout)
    try:
        timeout_s = float(timeout)
    except OverflowError:  # an int beyond a float's range
        fail_value(owner, "timeout", seconds, timeout)
    if not (math.isfinite(timeout_s) and timeout_s > 0):
        fail_value(owner, "timeout", seconds, timeout)
    if timeout_s > _MAX_TIMEOUT_S:
        # SQLite takes its busy timeout as an int of milliseconds: past 2**31 - 1 it wraps and the
        # store would not wait at all.
        fail_value(owner, "timeout", f"{seconds} up to {_MAX_TIMEOUT_S:,.3f} (24.8 days)", timeout)
    return timeout_s


_MAX_TIMEOUT_S = (2**31 - 1) / 1000


# The tables backend.analytics makes (the store's and the live checkpoints'): a database holding
# tables but none of these belongs to something else and is not opened.
OUR_TABLES = frozenset(
    {
        "meta",
        "series",
        "hot_points",
        "cold_buckets",
        "anomaly_results",
        "aggregated_scores",
        "result_engines",
        "latest_results",
        "live_detectors",
        "live_series",
    }
)
_LIST_TABLES = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"


_LIVE_TABLES = frozenset({"live_detectors", "live_series"})


def _ours(conn: sqlite3.Connection, tables: set[str]) -> bool:
    """Whether a database with ``tables`` is one backend.analytics made.

    No table of another name, and either a store's ``meta`` row ``schema_version`` or only the
    live checkpoints' tables. (A name alone is not enough: another application's ``meta`` or
    ``series`` table would be taken for ours, and its file switched to WAL and given our tables.)
    """
    if not tables <= OUR_TABLES:
        return False
    if tables <= _LIVE_TABLES:
        return True
    try:
        return conn.execute("SELECT 1 FROM meta WHERE key = 'schema_version'").fetchone() is not None
    except sqlite3.Error:  # a "meta" table of another shape: not ours
        return False


def open_connection(owner: str, path: str, *, timeout: float, synchronous: str) -> sqlite3.Connection:
    """A connection to ``path``: autocommit, WAL journal (checked), ``synchronous``, foreign keys on.

    A new file gets 16 KiB pages (set before WAL, which fixes the page size).
    """
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    try:
        _prepare(owner, path, conn, synchronous)
    except BaseException:  # (a file that is no database, another application's, no WAL: closed, not leaked)
        conn.close()
        raise
    return conn


def _prepare(owner: str, path: str, conn: sqlite3.Connection, synchronous: str) -> None:
    """Check that ``conn``'s database is ours (or new) and set it up (:func:`open_connection`)."""
    tables = {str(row[0]) for row in conn.execute(_LIST_TABLES)}
    if tables and not _ours(conn, tables):
        raise ValueError(
            f"{owner}: {path!r} is a SQLite database of something else (its tables: "
            f"{', '.join(sorted(tables)[:8])}{', ...' if len(tables) > 8 else ''}); give a new file or "
            "one that backend.analytics made, so that its tables and journal mode are not changed"
        )
    conn.execute(_PRAGMA_PAGE_SIZE)  # a no-op on a file that already has tables
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise ValueError(f"{owner}: could not enable WAL on {path!r}, got {mode!r}")
    conn.execute(_PRAGMA_SYNCHRONOUS[synchronous])
    conn.execute("PRAGMA foreign_keys = ON")


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction on ``conn``: ``BEGIN IMMEDIATE`` (take the write lock now), commit or roll back."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _close_all(connections: list[sqlite3.Connection], pid: int | None = None) -> None:
    """Close ``connections``; with ``pid``, only in that process (a store's finalizer)."""
    if pid is not None and os.getpid() != pid:
        return
    for conn in connections:
        conn.close()


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
        self._pid = os.getpid()
        # A store dropped without close() (a fleet worker's cache evicts its stores) closes its
        # connections when it is collected, as a file object does (no "unclosed database" warning).
        # (Not in a forked child, whose copies of the parent's connections must not be touched.)
        weakref.finalize(self, _close_all, self._connections, self._pid)

    def _conn(self) -> sqlite3.Connection:
        owner = type(self).__name__
        if self._closed:
            raise ValueError(f"{owner}: the store for {self.path!r} is closed")
        if os.getpid() != self._pid:
            raise ValueError(
                f"{owner}: the store for {self.path!r} was opened in process {self._pid} and is used in "
                f"process {os.getpid()}, a fork of it: SQLite's connections (and its record of the file's "
                "locks) must not cross a fork, where writes reported done can be lost. Open the store in "
                "each process after it starts, and start workers with 'spawn' or 'forkserver' (a child "
                "forked while its parent holds a store open cannot safely open the file at all)"
            )
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = open_connection(owner, self.path, timeout=self._timeout, synchronous=self._synchronous)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (:func:`write_transaction`) on this thread's connection."""
        with write_transaction(self._conn()) as conn:
            yield conn

    def close(self) -> None:
        """Close every connection the store opened (from any thread). Idempotent."""
        with self._lock:
            self._closed = True
            connections = self._connections[:]
            self._connections.clear()
        _close_all(connections)

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
    name = type(store).__name__
    owner = name if method == "__init__" else f"{name}.{method}"
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
