"""Live detection for many series, checkpointed so that it survives a restart (``kill -9`` included).

* :class:`LiveDetector`: batches of :class:`LivePoint` in, results out as
  windows complete; one incremental stream per series; a documented policy
  for late, out-of-order and duplicate points (:data:`REJECT_REASONS`,
  counted in :class:`LiveStats`); gaps longer than ``max_gap`` split the
  stream (:class:`GapSplit`).
* :class:`CheckpointFile`: the checkpoints, in a SQLite file (the store's),
  versioned by :data:`CHECKPOINT_VERSION`.

>>> from datetime import datetime, timedelta, timezone
>>> t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
>>> live = LiveDetector("zscore")
>>> stamps = [t0 + timedelta(minutes=i) for i in range(25)]
>>> batch = [LivePoint("acme", "c-1", "n-1", "cpu", t, 10.0 + i % 3) for i, t in enumerate(stamps)]
>>> len(live.ingest(batch))
2
>>> live.ingest([LivePoint("acme", "c-1", "n-1", "cpu", t0, 1.0)])
[]
>>> live.stats.rejected["late"], live.stats.accepted
(1, 25)

See ``docs/fleet.md`` for the walk-through.
"""

from __future__ import annotations

from ._checkpoint import CHECKPOINT_VERSION, UNCHECKED, CheckpointFile
from ._detector import (
    REJECT_REASONS,
    EngineFailure,
    GapSplit,
    LiveDetector,
    LivePoint,
    LiveStats,
    Rejection,
)

__all__ = [
    "CHECKPOINT_VERSION",
    "REJECT_REASONS",
    "UNCHECKED",
    "CheckpointFile",
    "EngineFailure",
    "GapSplit",
    "LiveDetector",
    "LivePoint",
    "LiveStats",
    "Rejection",
]
