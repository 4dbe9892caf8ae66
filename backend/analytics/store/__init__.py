"""Storage for metric series and results: the contract and a reference SQLite store.

* :class:`MetricStore`, :class:`ResultSink`: structural protocols every store
  implements (see :mod:`backend.analytics.store._protocols` for the shared
  rules: tenant scoping, aware datetimes, half-open ranges, atomic and
  idempotent writes).
* :class:`SQLiteMetricStore`: the reference implementation on stdlib
  ``sqlite3`` (WAL, hot and cold tiers, parameterised SQL only).
* :data:`UNRECORDED_ENGINE`: the engine name of results and aggregates
  written before the store recorded engines (files of schema versions 1 and
  2 are migrated on open; see :mod:`backend.analytics.store._schema`).
* :class:`StoreError` (a ``RuntimeError``, from :mod:`backend.analytics.errors`):
  the database itself failed (locked past the store's ``timeout``, corrupt,
  disk full); bad arguments are ``ValueError``/``TypeError`` as everywhere.
* :class:`RetentionPolicy`: how long points stay raw and how they are rolled up
  (:mod:`backend.analytics.store.retention`).

``INTEGRATION_CONTRACT.py`` at the repository root walks a service author
through the contract and checks it against a temporary database.
"""

from __future__ import annotations

from ..errors import StoreError
from ._protocols import MetricStore, ResultSink, SeriesKey, SeriesNotFoundError
from ._schema import UNRECORDED_ENGINE
from .retention import RetentionPolicy, RetentionReport, RollupBucket
from .sqlite import SQLiteMetricStore

__all__ = [
    "UNRECORDED_ENGINE",
    "MetricStore",
    "ResultSink",
    "RetentionPolicy",
    "RetentionReport",
    "RollupBucket",
    "SQLiteMetricStore",
    "SeriesKey",
    "SeriesNotFoundError",
    "StoreError",
]
