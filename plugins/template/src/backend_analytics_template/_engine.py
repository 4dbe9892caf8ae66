"""``MedianMADEngine``: each point's robust z-score against the points before it; causal, stdlib only.

The method is one :class:`~backend.analytics.scoring.PointScorer`: it keeps
the last ``history_points`` values in sorted order; a new value ``x`` scores
``z = |x - median| / (1.4826 * MAD)`` against them (1.4826 makes the median
absolute deviation a consistent estimate of the standard deviation for
Gaussian noise; Rousseeuw & Croux 1993), mapped to ``z / (z + z_threshold)``:
0.5, the alarm line, at ``z == z_threshold``. When the MAD is 0, a value on the
median scores 0 and any other 1. The first ``min_history`` values (30) score 0.

Everything else (windows, labels, magnitudes, sentences, ``.stream()``)
comes from :class:`~backend.analytics.scoring.PointScoringEngine`.
Values are divided by the largest magnitude in the history before any
subtraction, so 1e-300 and 1e308 never underflow or overflow.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from typing import ClassVar

from backend.analytics.scoring import PointScorer, PointScoringEngine, z_score_to_unit
from backend.analytics.validators import check_positive_int, check_positive_real, fail_value

__all__ = ["MedianMADEngine", "MedianMADScorer"]


class MedianMADScorer(PointScorer):
    """Robust z-score of each value against the ``history_points`` values before it."""

    def __init__(self, history_points: int, z_threshold: float, min_history: int = 30) -> None:
        self.warmup_points = min_history
        self.history_points = history_points
        self.z_threshold = z_threshold
        self._recent: deque[float] = deque()
        self._sorted: list[float] = []

    def update(self, x: float, t: int) -> float:
        score = self._score(x) if len(self._sorted) >= self.warmup_points else 0.0
        self._recent.append(x)
        insort(self._sorted, x)
        if len(self._recent) > self.history_points:
            del self._sorted[bisect_left(self._sorted, self._recent.popleft())]
        return score

    def _score(self, x: float) -> float:
        ref = self._sorted
        peak = max(abs(ref[0]), abs(ref[-1]), abs(x))
        if peak == 0.0:  # all zero so far, and so is x
            return 0.0
        med = _median(ref) / peak
        mad = _median(sorted(abs(v / peak - med) for v in ref)) * 1.4826
        dev = abs(x / peak - med)
        if mad == 0.0:
            return 0.0 if dev == 0.0 else 1.0
        return z_score_to_unit(dev / mad, self.z_threshold)


def _median(ordered: list[float]) -> float:
    m = len(ordered)
    return ordered[m // 2] if m % 2 else ordered[m // 2 - 1] / 2.0 + ordered[m // 2] / 2.0


class MedianMADEngine(PointScoringEngine):
    """Median/MAD robust z-score per point, windows scored by their worst point; causal; stdlib only.

    Keyword arguments: ``window_size_points`` (default 10), ``stride_points``
    (default 5), ``history_points`` (default 120, at least 8): the values
    before a point it is judged against (the first 30 points score 0);
    ``z_threshold`` (default 4.0, > 0):
    the robust z-score that lands on the alarm line 0.5.
    """

    name: ClassVar[str] = "median_mad"
    causal: ClassVar[bool] = True

    def __init__(
        self,
        *,
        window_size_points: int = 10,
        stride_points: int = 5,
        history_points: int = 120,
        z_threshold: float = 4.0,
    ) -> None:
        self.history_points = check_positive_int("MedianMADEngine", "history_points", history_points)
        if self.history_points < 8:
            fail_value("MedianMADEngine", "history_points", "an int >= 8", history_points)
        self.z_threshold = check_positive_real("MedianMADEngine", "z_threshold", z_threshold)
        super().__init__(window_size_points=window_size_points, stride_points=stride_points)

    def scorer(self) -> MedianMADScorer:
        return MedianMADScorer(self.history_points, self.z_threshold, min(30, self.history_points))
