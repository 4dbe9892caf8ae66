"""Checkpoints of live detectors in a SQLite file (the store's file, or any other).

Two tables, created if missing beside the store's own (they do not change the
store's schema version):

::

    live_detectors    (detector)                                          PRIMARY KEY
                      version, engine (repr), policy (JSON), cursor (JSON), counters (JSON), saved_at_us
    live_series       (detector, tenant_id, cluster_id, node_id, metric_name)  PRIMARY KEY
                      version, state (pickle of the series' stream and reorder buffer)

A checkpoint is one ``BEGIN IMMEDIATE`` ... ``COMMIT`` transaction: the states
of the series that changed since the last one, and the detector's row (its
input cursor and counters). After a crash the file holds the last committed
checkpoint whole, never half of one.

``version`` is :data:`CHECKPOINT_VERSION`; a checkpoint of another version is
refused with ``ValueError`` rather than guessed at. The states are pickles:
load checkpoints only from a file you trust, as with any pickle.
"""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from ..store import SeriesKey
from ..store._connection import (
    check_database_path,
    check_timeout,
    open_connection,
    wraps_sqlite_errors,
    write_transaction,
)

__all__ = ["CHECKPOINT_VERSION", "UNCHECKED", "CheckpointFile", "DetectorRow"]

#: Every checkpoint is pickled with protocol 5 (Python 3.8 and later), not the running Python's highest:
#: a later Python with a protocol 6 would otherwise write checkpoints that an older one cannot resume.
_PICKLE_PROTOCOL = 5


class _Unchecked(Enum):
    """The type of :data:`UNCHECKED`."""

    UNCHECKED = "unchecked"


#: ``CheckpointFile.save(expect=UNCHECKED)`` (the default): write without comparing the stored row.
UNCHECKED: Final = _Unchecked.UNCHECKED

#: The layout of a pickled series state; bumped when it changes.
CHECKPOINT_VERSION = 1

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS live_detectors (
        detector TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        engine TEXT NOT NULL,
        policy TEXT NOT NULL,
        cursor TEXT NOT NULL,
        counters TEXT NOT NULL,
        saved_at_us INTEGER NOT NULL
    ) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS live_series (
        detector TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        cluster_id TEXT NOT NULL,
        node_id TEXT NOT NULL,
        metric_name TEXT NOT NULL,
        version INTEGER NOT NULL,
        state BLOB NOT NULL,
        PRIMARY KEY (detector, tenant_id, cluster_id, node_id, metric_name)
    ) WITHOUT ROWID""",
)
_UPSERT_DETECTOR = (
    "INSERT INTO live_detectors (detector, version, engine, policy, cursor, counters, saved_at_us) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (detector) DO UPDATE SET version = excluded.version, "
    "engine = excluded.engine, policy = excluded.policy, cursor = excluded.cursor, "
    "counters = excluded.counters, saved_at_us = excluded.saved_at_us"
)
_UPSERT_SERIES = (
    "INSERT INTO live_series (detector, tenant_id, cluster_id, node_id, metric_name, version, state) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (detector, tenant_id, cluster_id, node_id, metric_name) "
    "DO UPDATE SET version = excluded.version, state = excluded.state"
)
_SELECT_DETECTOR = (
    "SELECT version, engine, policy, cursor, counters, saved_at_us FROM live_detectors WHERE detector = ?"
)
_SELECT_SERIES = (
    "SELECT tenant_id, cluster_id, node_id, metric_name, version, state FROM live_series "
    "WHERE detector = ? ORDER BY tenant_id, cluster_id, node_id, metric_name"
)
_SELECT_STAMP = "SELECT saved_at_us, counters FROM live_detectors WHERE detector = ?"
_DELETE_DETECTOR = "DELETE FROM live_detectors WHERE detector = ?"
_DELETE_SERIES = "DELETE FROM live_series WHERE detector = ?"
_DELETE_ONE_SERIES = (
    "DELETE FROM live_series WHERE detector = ? AND tenant_id = ? AND cluster_id = ? AND node_id = ? "
    "AND metric_name = ?"
)


def _checkpoints_of(counters: str) -> int | None:
    """The ``checkpoints`` counter of a row's counters (JSON), or None if unreadable."""
    try:
        value = json.loads(counters).get("checkpoints", 0)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


@dataclass(frozen=True, slots=True)
class DetectorRow:
    """A detector's saved row: what it was built with, where its input stood, its counters."""

    version: int
    engine: str
    policy: dict[str, Any]
    cursor: Any
    counters: dict[str, Any]
    saved_at_us: int


class CheckpointFile:
    """Reads and writes live-detector checkpoints in one SQLite file (a connection per call).

    ``path``: the file (created if missing; usually the store's file).
    ``timeout``: seconds to wait for another writer's lock. A failure of the
    database raises :class:`~backend.analytics.errors.StoreError`. Connections,
    transactions, argument checks and errors are the store's own
    (``store._connection``), with ``synchronous = FULL``.
    """

    @wraps_sqlite_errors
    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = check_database_path("CheckpointFile", path)
        # (``_timeout`` is what the store's error messages read, as for the store itself)
        self.timeout = self._timeout = check_timeout("CheckpointFile", timeout)
        with self._connect() as conn, write_transaction(conn):
            for statement in _SCHEMA:
                conn.execute(statement)

    def __repr__(self) -> str:
        return f"CheckpointFile({self.path!r})"

    def _connect(self) -> closing[sqlite3.Connection]:
        return closing(open_connection("CheckpointFile", self.path, timeout=self.timeout, synchronous="FULL"))

    @wraps_sqlite_errors
    def save(
        self,
        detector: str,
        row: DetectorRow,
        states: Iterable[tuple[SeriesKey, Any]],
        *,
        expect: tuple[int, int] | _Unchecked | None = UNCHECKED,
        forget: Iterable[SeriesKey] = (),
    ) -> int:
        """Write ``row`` and the pickled ``states`` in one transaction; return the series written.

        ``expect``: the detector's row as its writer last saw it, ``(saved_at_us,
        checkpoints counter)``, or ``None`` for no row; if the row in the file
        is another, another writer has checkpointed under this name since, and
        this raises ``ValueError`` and writes nothing (two running detectors
        must not share a name on one file: each would resume from the other's
        cursor). :data:`UNCHECKED` (the default): not compared. ``forget``: series whose
        states are deleted in the same transaction (series the detector dropped).
        """
        if expect is not UNCHECKED and expect is not None and (
            not isinstance(expect, tuple)
            or len(expect) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in expect)
        ):
            raise TypeError(
                "CheckpointFile.save: expect must be (saved_at_us, checkpoints), a pair of ints, None "
                f"(no row yet) or UNCHECKED, got {expect!r}"
            )
        written = 0

        def rows() -> Iterator[tuple[Any, ...]]:
            nonlocal written
            for key, state in states:
                written += 1
                blob = pickle.dumps(state, protocol=_PICKLE_PROTOCOL)
                yield (detector, *key, CHECKPOINT_VERSION, blob)

        with self._connect() as conn, write_transaction(conn):
            if expect is not UNCHECKED:
                found = conn.execute(_SELECT_STAMP, (detector,)).fetchone()
                stamp = None if found is None else (found[0], _checkpoints_of(found[1]))
                if stamp != expect:
                    raise ValueError(
                        f"CheckpointFile.save: detector {detector!r} in {self.path!r} was checkpointed by "
                        f"another writer since this one loaded or last saved it (its row is now {stamp}, "
                        f"expected {expect}: (saved_at_us, checkpoints)); two running detectors share "
                        "this name: give each its own name (nothing was written)"
                    )
            conn.executemany(_DELETE_ONE_SERIES, ((detector, *key) for key in forget))
            conn.executemany(_UPSERT_SERIES, rows())
            conn.execute(
                _UPSERT_DETECTOR,
                (
                    detector,
                    row.version,
                    row.engine,
                    json.dumps(row.policy, sort_keys=True),
                    json.dumps(row.cursor),
                    json.dumps(row.counters, sort_keys=True),
                    row.saved_at_us,
                ),
            )
        return written

    @wraps_sqlite_errors
    def load(self, detector: str) -> tuple[DetectorRow, list[tuple[SeriesKey, Any]]] | None:
        """The detector's last checkpoint (its row and every series state), or None if it has none.

        One read transaction, so the row and the states are of the same checkpoint.
        """
        with self._connect() as conn:
            conn.execute("BEGIN")
            found = conn.execute(_SELECT_DETECTOR, (detector,)).fetchone()
            series = conn.execute(_SELECT_SERIES, (detector,)).fetchall() if found else []
            conn.execute("COMMIT")
        if found is None:
            return None
        version, engine, policy, cursor, counters, saved_at_us = found
        if version != CHECKPOINT_VERSION:
            raise ValueError(
                f"CheckpointFile.load: detector {detector!r} in {self.path!r} was checkpointed with "
                f"version {version}; this backend.analytics reads version {CHECKPOINT_VERSION}"
            )
        states = []
        for tenant, cluster, node, metric, v, blob in series:
            if v != CHECKPOINT_VERSION:
                raise ValueError(
                    f"CheckpointFile.load: series {(tenant, cluster, node, metric)!r} of detector "
                    f"{detector!r} has checkpoint version {v}; expected {CHECKPOINT_VERSION}"
                )
            key = SeriesKey(tenant, cluster, node, metric)
            try:
                state = pickle.loads(blob)
            except Exception as exc:
                raise ValueError(
                    f"CheckpointFile.load: the state of series {tuple(key)!r} of detector {detector!r} in "
                    f"{self.path!r} cannot be read ({type(exc).__name__}: {exc}); the file is damaged: "
                    "restore it from a backup, or delete the detector's checkpoint to start it afresh"
                ) from exc
            states.append((key, state))
        try:
            row = DetectorRow(
                int(version),
                str(engine),
                json.loads(policy),
                json.loads(cursor),
                json.loads(counters),
                saved_at_us,
            )
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"CheckpointFile.load: the row of detector {detector!r} in {self.path!r} cannot be read "
                f"({type(exc).__name__}: {exc}); the file is damaged: restore it from a backup, or delete "
                "the detector's checkpoint to start it afresh"
            ) from exc
        return row, states

    @wraps_sqlite_errors
    def delete(self, detector: str) -> None:
        """Forget the detector's checkpoint (to start it afresh)."""
        with self._connect() as conn, write_transaction(conn):
            conn.execute(_DELETE_SERIES, (detector,))
            conn.execute(_DELETE_DETECTOR, (detector,))
