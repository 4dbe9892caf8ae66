"""Shared plumbing of the built-in engines' incremental forms (private).

A stream holds the latest points of one series in buffers indexed by absolute
point number (point ``i`` lives at position ``i - _base``), checks that every
chunk belongs to the series and continues it, and labels anomalous windows
against a bounded history. Engines subclass :class:`BufferedStream` and
implement ``_feed``; ``detect`` on a whole series is ``_feed(series, whole=True)``
on a fresh stream, so the two forms cannot drift apart.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from array import array
from datetime import datetime
from typing import ClassVar, Protocol

from .._kinds import AnomalyType
from .._validate import check_bool, check_positive_int, check_real, fail_type, fail_value
from ..engine import AnomalyDetectionEngine
from ..explain import ExplanationClassifier
from ..scoring import label_and_explain
from ..types import AnomalyResult, MetricSeries, epoch_us_to_datetime

__all__ = [
    "LABEL_CONTEXT",
    "BufferedStream",
    "PointScorer",
    "ScorerEngine",
    "ScorerStream",
    "fallback_label",
    "make_classifier",
]


def make_classifier(owner: str, classify: bool, history_points: int | None) -> ExplanationClassifier | None:
    """The classifier an engine labels with: ``None`` without ``classify``, else one reading
    ``history_points`` points (the classifier's default when ``None``)."""
    if history_points is not None:
        check_positive_int(owner, "classifier_history_points", history_points)
    if not classify:
        return None
    if history_points is None:
        return ExplanationClassifier()
    try:
        return ExplanationClassifier(history_points=history_points)
    except ValueError as exc:
        raise ValueError(f"{owner}: classifier_history_points: {exc}") from None


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


class PointScorer(Protocol):
    """The streaming core of a point-scoring engine: plain floats in, one score per point out."""

    def _run(self, values: list[float], distances: list[int] | None) -> list[float]:
        """Scores of ``values`` (in [0, 1]); appends each point's distance beyond the learnt range."""
        ...


#: Points before a window that the fallback SPIKE/TREND label compares against.
LABEL_CONTEXT = 32


class ScorerStream(BufferedStream):
    """Windows over the point scores of an engine's streaming scorer (``novelty``, ``contextual``, ...).

    A window's score is the largest point score inside it; it is anomalous
    exactly when that reaches the engine's ``score_threshold``. ``magnitude``
    is ``d / (d + levels)``, ``d`` being the largest distance (in grid bins)
    beyond the range the scorer learnt. Anomalous windows are labelled and
    explained by the engine's classifier, or by :func:`fallback_label`.
    """

    _owner: ClassVar[str] = "ScorerStream"

    def __init__(
        self, engine: ScorerEngine, tenant_id: str, cluster_id: str, node_id: str, metric_name: str
    ) -> None:
        super().__init__(tenant_id, cluster_id, node_id, metric_name)
        self._engine = engine
        self._scorer = engine.scorer()
        self._w = engine.window_size_points
        self._stride = engine.stride_points
        self._keep = max(engine.history_points, LABEL_CONTEXT)
        # Per-point buffers beside the base class's values and timestamps.
        self._scores: list[float] = []
        self._dist: list[int] = []

    def _window_points(self) -> int:
        return self._w

    def _feed(self, chunk: MetricSeries, *, whole: bool) -> list[AnomalyResult]:
        new_vals = chunk.values.tolist()
        if not new_vals:
            return []
        self._us.extend(chunk.epoch_us)
        self._vals.extend(new_vals)
        dist: list[int] = []
        self._scores.extend(self._scorer._run(new_vals, dist))
        self._dist.extend(dist)
        self._n += len(new_vals)
        w, stride, base = self._w, self._stride, self._base
        scores, dists, us = self._scores, self._dist, self._us
        threshold = self._engine.score_threshold
        levels = self._engine.levels
        out: list[AnomalyResult] = []
        start = self._next_start
        to_dt = epoch_us_to_datetime
        trusted = AnomalyResult._trusted
        ids = self._ids
        normal = AnomalyType.NORMAL
        while start + w <= self._n:
            lo, hi = start - base, start + w - base
            if w == 1:
                score = scores[lo]
                d = dists[lo]
            else:
                score = max(scores[lo:hi])
                d = max(dists[lo:hi])
            magnitude = d / (d + levels)
            t_start = to_dt(us[lo])
            t_end = t_start if w == 1 else to_dt(us[hi - 1])
            if score >= threshold:
                out.append(self._anomalous(start, t_start, t_end, score, magnitude))
            else:
                out.append(trusted(ids, t_start, t_end, score, normal, magnitude, None))
            start += stride
        self._next_start = start
        if not whole:
            # Drop buffered points that no future window or label can need (amortised O(1)).
            self._drop_before(self._next_start - self._keep, self._scores, self._dist)
        return out

    def _anomalous(
        self, start: int, t_start: datetime, t_end: datetime, score: float, magnitude: float
    ) -> AnomalyResult:
        """The result of an anomalous window, labelled and explained against its bounded history."""
        base, end = self._base, start + self._w
        window_vals = self._vals[start - base : end - base]
        before = self._vals[max(base, start - LABEL_CONTEXT) - base : start - base]
        label = fallback_label(window_vals, before)
        result = AnomalyResult._trusted(self._ids, t_start, t_end, score, label, magnitude, None)
        classifier = self._engine._classifier
        if classifier is None:
            return result
        return self._label(classifier, start, result, label)


def fallback_label(window: list[float], before: list[float]) -> AnomalyType:
    """TREND when the window ends at least half as far from the prior level as its peak, else SPIKE."""
    if not before:
        return AnomalyType.SPIKE
    # A mean of values near the float limit could overflow: then the last value is the reference.
    finite_mean = all(abs(v) < 1e300 for v in before)
    ref = math.fsum(before) / len(before) if finite_mean else before[-1]
    peak = max(window, key=lambda v: abs(v - ref))
    last = window[-1]
    if (last - ref) * (peak - ref) > 0 and abs(last - ref) * 2 >= abs(peak - ref):
        return AnomalyType.TREND
    return AnomalyType.SPIKE


class ScorerEngine(AnomalyDetectionEngine):
    """Shared settings and plumbing of the point-scorer engines (``novelty``, ``contextual``, ``combined``).

    A subclass validates its own settings, calls :meth:`_init_common` for the
    shared ones, sets ``levels`` (the grid behind ``magnitude``) and
    ``_stream_class``, and implements :meth:`scorer`. ``detect`` is the stream
    fed the whole series, so the two forms cannot drift apart.
    """

    _stream_class: ClassVar[type[ScorerStream]]
    levels: int

    def _init_common(
        self,
        owner: str,
        window_size_points: int,
        stride_points: int,
        threshold: float,
        classify: bool,
        classifier_history_points: int | None = None,
    ) -> None:
        self.window_size_points = check_positive_int(owner, "window_size_points", window_size_points)
        self.stride_points = check_positive_int(owner, "stride_points", stride_points)
        self.threshold = check_real(owner, "threshold", threshold)
        if not 0.0 < self.threshold <= 1.0:
            fail_value(owner, "threshold", "a real number in (0, 1]", threshold)
        self.classify = check_bool(owner, "classify", classify)
        self._classifier = make_classifier(owner, classify, classifier_history_points)

    @property
    def score_threshold(self) -> float:
        """A window is anomalous exactly when its ``anomaly_score`` is at or above this."""
        return self.threshold

    @property
    def history_points(self) -> int:
        """Points before a window that its label and explanation may read (the classifier's history)."""
        return self._classifier.history_points if self._classifier is not None else 0

    @abstractmethod
    def scorer(self) -> PointScorer:
        """A fresh streaming core with this engine's settings (plain floats in, point scores out)."""

    def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
        """Score every full window of ``time_series``; see the engine's module docs."""
        if not isinstance(time_series, MetricSeries):
            fail_type(f"{type(self).__name__}.detect", "time_series", "a MetricSeries", time_series)
        return self._stream_class(self, *time_series.ids)._feed(time_series, whole=True)

    def stream(self, tenant_id: str, cluster_id: str, node_id: str, metric_name: str) -> ScorerStream:
        """An incremental detector for one live series with these ids (same results as ``detect``)."""
        return self._stream_class(self, tenant_id, cluster_id, node_id, metric_name)

    def explain(self, time_series: MetricSeries, result: AnomalyResult) -> str:
        """One sentence about ``result``: its own explanation, else the classifier's."""
        if result.explanation is not None:
            return result.explanation
        return (self._classifier or ExplanationClassifier()).explain(time_series, result)
