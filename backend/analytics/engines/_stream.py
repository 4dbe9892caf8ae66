"""Shared plumbing of the built-in engines' incremental forms (private).

A stream holds the latest points of one series in buffers indexed by absolute
point number (point ``i`` lives at position ``i - _base``), checks that every
chunk belongs to the series and continues it, and labels anomalous windows
against a bounded history. Engines subclass :class:`BufferedStream` and
implement ``_feed``; ``detect`` on a whole series is ``_feed(series, whole=True)``
on a fresh stream, so the two forms cannot drift apart.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from array import array
from datetime import datetime
from typing import ClassVar

from .._kinds import AnomalyType
from .._validate import fail_type
from ..explain import ExplanationClassifier
from ..scoring import label_and_explain
from ..types import AnomalyResult, MetricSeries, epoch_us_to_datetime

__all__ = ["BufferedStream"]


class BufferedStream(ABC):
    """Base of ``ZScoreStream`` and ``NoveltyStream``: ids, continuity checks and point buffers."""

    _owner: ClassVar[str]

    def __init__(self, tenant_id: str, cluster_id: str, node_id: str, metric_name: str) -> None:
        # Validate the ids exactly as MetricSeries does.
        probe = MetricSeries.from_arrays(tenant_id, cluster_id, node_id, metric_name, [], [])
        self._ids = probe.ids
        self._meta = probe.metadata or {}
        self._us: array[int] = array("q")
        self._vals: list[float] = []
        self._base = 0
        self._n = 0
        self._next_start = 0

    @property
    def points_seen(self) -> int:
        """How many points the stream has taken so far."""
        return self._n

    def update(self, chunk: MetricSeries) -> list[AnomalyResult]:
        """Take the points of ``chunk``; return the results of the windows they complete."""
        owner = f"{self._owner}.update"
        if not isinstance(chunk, MetricSeries):
            fail_type(owner, "chunk", "a MetricSeries", chunk)
        if chunk.ids != self._ids:
            raise ValueError(f"{owner}: chunk ids {chunk.ids!r} differ from the stream's {self._ids!r}")
        if len(chunk) and self._n and chunk.epoch_us[0] <= self._us[-1]:
            raise ValueError(
                f"{owner}: chunk.timestamps[0] must be later than the last point seen "
                f"({epoch_us_to_datetime(self._us[-1])}), got {chunk.timestamps[0]}"
            )
        return self._feed(chunk, whole=False)

    def push(self, timestamp: datetime, value: float) -> list[AnomalyResult]:
        """Take one point; return the results of the windows it completes."""
        return self.update(MetricSeries(*self._ids, [timestamp], [value]))

    @abstractmethod
    def _feed(self, chunk: MetricSeries, *, whole: bool) -> list[AnomalyResult]:
        """Append ``chunk``'s points and score the windows they complete (``whole``: no trimming)."""

    def _drop_before(self, need_from: int, *extra: list[float] | list[int]) -> None:
        """Forget points before absolute index ``need_from`` once they fill half the buffer."""
        drop = need_from - self._base
        if drop > 0 and drop * 2 >= len(self._vals):
            del self._vals[:drop]
            del self._us[:drop]
            for buf in extra:
                del buf[:drop]
            self._base += drop

    def _label(
        self,
        classifier: ExplanationClassifier,
        start: int,
        result: AnomalyResult,
        fallback: AnomalyType,
    ) -> AnomalyResult:
        """``result`` (window starting at absolute ``start``) labeled and explained by ``classifier``.

        The classifier sees the buffered points from ``history_points`` before
        the window to its end, exactly what it would read on the whole series.
        """
        end = start + self._window_points()
        lo = max(self._base, start - classifier.history_points)
        base = self._base
        sub = MetricSeries._trusted(
            self._ids,
            self._us[lo - base : end - base],
            array("d", self._vals[lo - base : end - base]),
            self._meta,
        )
        return label_and_explain(classifier, sub, start - lo, end - lo, result, fallback)

    @abstractmethod
    def _window_points(self) -> int:
        """Points in one window."""
