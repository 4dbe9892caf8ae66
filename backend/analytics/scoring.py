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
from collections.abc import Callable, Sequence
from typing import ClassVar

from ._kinds import AnomalyType
from ._validate import check_bool, check_positive_int, check_real, fail_type, fail_value
from .engine import AnomalyDetectionEngine
from .explain import ExplanationClassifier
from .types import AnomalyResult, MetricSeries, epoch_us_to_datetime
from .windows import SlidingWindowExtractor, TimeWindow

__all__ = ["PointScoringEngine", "label_and_explain", "windows_from_z"]


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


def windows_from_z(
    series: MetricSeries,
    z: Sequence[float],
    *,
    first: int = 0,
    window_size_points: int,
    stride_points: int,
    threshold: float,
    score_threshold: float = 0.5,
    magnitude: Callable[[int, int], float] | None = None,
) -> list[AnomalyResult]:
    """Windows scored from per-point ``|z|`` scores: the calibration the plugin engines share.

    ``z[i]`` is the score of point ``first + i`` in standard-normal units
    (``>= 0``; ``inf`` allowed), so ``len(z) == len(series) - first``. Windows
    of ``window_size_points`` points advance by ``stride_points`` from point
    ``first``; a window's ``z`` is its largest and its
    ``anomaly_score = z / (z + threshold)`` (1.0 for ``inf``): 0.5 at
    ``z == threshold``. A window is NORMAL when its score is below
    ``score_threshold``; otherwise SPIKE when fewer than half its points reach
    ``threshold``, else TREND. ``magnitude(start, stop)``, when given, is the
    magnitude of the window of points ``[start, stop)``.

    >>> from datetime import datetime, timedelta, timezone
    >>> t0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
    >>> s = MetricSeries("t", "c", "n", "m", [t0 + timedelta(minutes=i) for i in range(6)], [1.0] * 6)
    >>> [(r.anomaly_score, r.anomaly_label.value)
    ...  for r in windows_from_z(s, [0, 0, 0, 3, 0, 0], window_size_points=3, stride_points=3, threshold=3.0)]
    [(0.0, 'normal'), (0.5, 'spike')]
    """
    owner = "windows_from_z"
    n = len(series)
    if isinstance(first, bool) or not isinstance(first, int):
        fail_type(owner, "first", "an int in [0, len(series)]", first)
    if not 0 <= first <= n:
        fail_value(owner, "first", f"an int in [0, {n}]", first)
    if len(z) != n - first:
        fail_value(owner, "z", f"{n - first} scores (one per point from index {first})", f"{len(z)} scores")
    for i, v in enumerate(z):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            fail_type(owner, f"z[{i}]", "a number >= 0 (inf allowed)", v)
        if not v >= 0.0:  # also rejects nan
            fail_value(owner, f"z[{i}]", "a number >= 0 (inf allowed)", v)
    size = check_positive_int(owner, "window_size_points", window_size_points)
    stride = check_positive_int(owner, "stride_points", stride_points)
    thr = check_real(owner, "threshold", threshold)
    if thr <= 0.0:
        fail_value(owner, "threshold", "a positive number", threshold)
    cut = check_real(owner, "score_threshold", score_threshold)
    if not 0.0 < cut <= 1.0:
        fail_value(owner, "score_threshold", "a number in (0, 1]", score_threshold)
    stamps = series.timestamps
    out: list[AnomalyResult] = []
    for start in range(first, n - size + 1, stride):
        chunk = z[start - first : start - first + size]
        worst = max(chunk)
        score = 1.0 if math.isinf(worst) else worst / (worst + thr)
        if score < cut:
            label = AnomalyType.NORMAL
        elif 2 * sum(1 for v in chunk if v >= thr) < size:
            label = AnomalyType.SPIKE
        else:
            label = AnomalyType.TREND
        out.append(
            AnomalyResult(
                *series.ids,
                window_start=stamps[start],
                window_end=stamps[start + size - 1],
                anomaly_score=score,
                anomaly_label=label,
                magnitude=None if magnitude is None else magnitude(start, start + size),
            )
        )
    return out


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
