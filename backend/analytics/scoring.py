"""Plumbing for engines that score points: windows, labels and sentences done once.

:class:`PointScoringEngine` is a concrete helper base (the ABC stays two
methods). A subclass implements one hook, :meth:`PointScoringEngine.score_points`,
which gives every point of a series a score in [0, 1]; the base class cuts the
windows (``window_size_points``/``stride_points``, as
:class:`~backend.analytics.windows.SlidingWindowExtractor` does), scores each
window by the maximum of its points' scores, labels the windows at or above
``score_threshold`` with the :class:`~backend.analytics.explain.ExplanationClassifier`
(SPIKE/TREND from the persistence of high scores when the classifier sees
nothing), and writes their explanations. Windows below the threshold are
NORMAL, so "NORMAL exactly when not anomalous" holds by construction.

>>> from datetime import datetime, timedelta, timezone
>>> from typing import ClassVar
>>> from backend.analytics import MetricSeries
>>> class Jump(PointScoringEngine):
...     name: ClassVar[str] = "jump"
...     causal: ClassVar[bool] = True
...     def score_points(self, series):
...         v = series.values.tolist()
...         return [0.0] + [min(1.0, abs(b - a) / 10.0) for a, b in zip(v, v[1:])]
>>> t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
>>> stamps = [t0 + timedelta(minutes=i) for i in range(40)]
>>> s = MetricSeries("t", "c", "n", "m", stamps, [1.0] * 30 + [9.0] * 10)
>>> engine = Jump(window_size_points=5, stride_points=5)
>>> [(r.window_start.minute, r.anomaly_label.value) for r in engine.detect(s) if r.is_anomalous]
[(30, 'trend')]
"""

from __future__ import annotations

import math
from abc import abstractmethod
from array import array
from collections.abc import Sequence
from typing import ClassVar

from ._kinds import AnomalyType
from ._validate import check_bool, check_positive_int, fail_type
from .engine import AnomalyDetectionEngine
from .explain import ExplanationClassifier
from .types import AnomalyResult, MetricSeries, epoch_us_to_datetime
from .windows import SlidingWindowExtractor, TimeWindow

__all__ = ["PointScoringEngine", "label_and_explain"]


def label_and_explain(
    classifier: ExplanationClassifier,
    series: MetricSeries,
    start: int,
    end: int,
    result: AnomalyResult,
    fallback: AnomalyType,
) -> AnomalyResult:
    """``result`` for the window ``[start, end)`` of ``series`` with the classifier's label and sentence.

    The classifier sees only ``classifier.history_points`` points before the
    window (it is causal and bounded); when it judges the window NORMAL, the
    engine's own ``fallback`` label stands (the engine found it anomalous).
    """
    lo = max(0, start - classifier.history_points)
    sub = series.slice(lo, end)
    window = TimeWindow(start - lo, end - lo, result.window_start, result.window_end, False)
    kind = classifier.classify(sub, window)
    labeled = AnomalyResult._trusted(
        series.ids,
        result.window_start,
        result.window_end,
        result.anomaly_score,
        fallback if kind is AnomalyType.NORMAL else kind,
        result.magnitude,
        None,
    )
    return AnomalyResult._trusted(
        series.ids,
        labeled.window_start,
        labeled.window_end,
        labeled.anomaly_score,
        labeled.anomaly_label,
        labeled.magnitude,
        classifier.explain(sub, labeled),
    )


class PointScoringEngine(AnomalyDetectionEngine):
    """Base for engines that score every point in [0, 1]; subclasses implement :meth:`score_points`.

    Keyword-only settings: ``window_size_points`` (default 1), ``stride_points``
    (default 1), ``classify`` (default True: label and explain anomalous
    windows with the :class:`ExplanationClassifier`). Subclasses add their own
    keyword-only settings and call ``super().__init__(...)`` with these.
    """

    #: Window score at or above which a window is anomalous (its label not NORMAL).
    score_threshold: ClassVar[float] = 0.5

    def __init__(self, *, window_size_points: int = 1, stride_points: int = 1, classify: bool = True) -> None:
        owner = type(self).__name__
        self.window_size_points = check_positive_int(owner, "window_size_points", window_size_points)
        self.stride_points = check_positive_int(owner, "stride_points", stride_points)
        self.classify = check_bool(owner, "classify", classify)
        self._classifier = ExplanationClassifier()

    @abstractmethod
    def score_points(self, series: MetricSeries) -> Sequence[float]:
        """One score in [0, 1] per point of ``series``; higher is more anomalous.

        A causal engine's score for point ``i`` depends only on points ``<= i``.
        """

    def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
        """Windows scored by the maximum of their points' scores; see the module docs."""
        owner = f"{type(self).__name__}.detect"
        if not isinstance(time_series, MetricSeries):
            fail_type(owner, "time_series", "a MetricSeries", time_series)
        n = len(time_series)
        bounds = SlidingWindowExtractor(self.window_size_points, self.stride_points).bounds(n)
        if not bounds:
            return []
        scores = array("d", self.score_points(time_series))
        if len(scores) != n:
            raise RuntimeError(
                f"{type(self).__name__}.score_points returned {len(scores)} scores for {n} points"
            )
        bad = next((i for i, s in enumerate(scores) if not 0.0 <= s <= 1.0), None)
        if bad is not None:  # an engine bug: say so loudly rather than clip it away
            raise RuntimeError(
                f"{type(self).__name__}.score_points: score[{bad}] = {scores[bad]!r} is outside [0, 1]"
            )
        us = time_series.epoch_us
        threshold = self.score_threshold
        out: list[AnomalyResult] = []
        for start, end, _ in bounds:
            chunk = scores[start:end]
            score = max(chunk)
            result = AnomalyResult._trusted(
                time_series.ids,
                epoch_us_to_datetime(us[start]),
                epoch_us_to_datetime(us[end - 1]),
                score,
                AnomalyType.NORMAL,
                None,
                None,
            )
            if score >= threshold:
                fallback = _persistence_label(chunk, threshold)
                if self.classify:
                    result = label_and_explain(self._classifier, time_series, start, end, result, fallback)
                else:
                    result = AnomalyResult._trusted(
                        time_series.ids, result.window_start, result.window_end, score, fallback, None, None
                    )
            out.append(result)
        return out

    def explain(self, time_series: MetricSeries, result: AnomalyResult) -> str:
        """The :class:`ExplanationClassifier`'s sentence for ``result``."""
        return self._classifier.explain(time_series, result)


def _persistence_label(chunk: Sequence[float], threshold: float) -> AnomalyType:
    """TREND when high scores run to the window's end over at least max(2, ceil(w/4)) points, else SPIKE."""
    run = 0
    for s in reversed(chunk):
        if s < threshold:
            break
        run += 1
    return AnomalyType.TREND if run >= max(2, math.ceil(len(chunk) / 4)) else AnomalyType.SPIKE
