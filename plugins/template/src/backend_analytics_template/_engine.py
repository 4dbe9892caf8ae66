"""``MedianMADEngine``: robust z-score of a window's most extreme point; causal, stdlib only.

Method. For a window ``[s, e)`` the reference is the trailing history
``values[max(0, e - history_points) : e]`` (the window's own points included,
so the first window has a reference too and nothing after ``e`` is read). With
``m`` its median and ``MAD`` its median absolute deviation, the robust z-score
of a point is ``|x - m| / (1.4826 * MAD)`` (1.4826 makes the MAD a consistent
estimate of the standard deviation for Gaussian data; Rousseeuw & Croux 1993).
The window's ``z`` is the largest over its points; when the MAD is 0 a point
equal to the median has ``z = 0`` and any other point ``z = inf``.

Calibration to [0, 1]: ``score = z / (z + threshold)`` (``1.0`` for
``z = inf``), so ``score = 0.5`` exactly at ``z = threshold`` and
``score_threshold = 0.5``: the label is not NORMAL exactly when
``score >= 0.5``. ``magnitude`` is the largest ``|x - m|`` divided by the
reference's range (max - min), in [0, 1], 0 for a flat reference.

Numerics. The reference is divided by its largest absolute value before any
subtraction, so values anywhere from 1e-300 to 1e308 (and of both signs) never
overflow; the z-score is scale-free, so this changes nothing else.
"""

from __future__ import annotations

import math
import statistics
from typing import ClassVar

from backend.analytics import AnomalyDetectionEngine, AnomalyResult, AnomalyType, MetricSeries
from backend.analytics.windows import locate_window

__all__ = ["MedianMADEngine"]

_MAD_TO_SD = 1.4826


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"MedianMADEngine: {name} must be a positive int, got {value!r} ({type(value).__name__})"
        )
    if value <= 0:
        raise ValueError(f"MedianMADEngine: {name} must be a positive int, got {value!r}")
    return value


class MedianMADEngine(AnomalyDetectionEngine):
    """Median/MAD robust z-score per window; causal; stdlib only.

    Keyword arguments:
    ``window_size_points`` (default 10) and ``stride_points`` (default 5): the
    sliding windows, in points. ``history_points`` (default 120, at least the
    window size): how many trailing points form the reference. ``threshold``
    (default 4.0, > 0): the robust z-score at which a window is anomalous.

    Scores are in [0, 1], 0.5 at the threshold (see the module docstring);
    ``score_threshold`` is 0.5. Anomalous windows are labelled ``SPIKE`` when
    fewer than half of their points exceed the threshold, else ``TREND``.
    """

    name: ClassVar[str] = "median_mad"
    causal: ClassVar[bool] = True
    score_threshold: ClassVar[float] = 0.5

    def __init__(
        self,
        *,
        window_size_points: int = 10,
        stride_points: int = 5,
        history_points: int = 120,
        threshold: float = 4.0,
    ) -> None:
        self.window_size_points = _positive_int("window_size_points", window_size_points)
        self.stride_points = _positive_int("stride_points", stride_points)
        self.history_points = _positive_int("history_points", history_points)
        if self.history_points < self.window_size_points:
            raise ValueError(
                f"MedianMADEngine: history_points must be >= window_size_points "
                f"({self.window_size_points}), got {history_points!r}"
            )
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
            raise TypeError(f"MedianMADEngine: threshold must be a positive finite number, got {threshold!r}")
        if not (math.isfinite(threshold) and threshold > 0):
            raise ValueError(
                f"MedianMADEngine: threshold must be a positive finite number, got {threshold!r}"
            )
        self.threshold = float(threshold)

    def _window_stats(self, values: list[float], start: int, end: int) -> tuple[float, float, int, float]:
        """``(z, magnitude, points_over_threshold, median)`` of window ``[start, end)``."""
        ref = values[max(0, end - self.history_points) : end]
        peak = max(abs(v) for v in ref)
        if peak == 0.0:
            return 0.0, 0.0, 0, 0.0
        scaled = [v / peak for v in ref]
        med = statistics.median(scaled)
        mad = statistics.median([abs(v - med) for v in scaled]) * _MAD_TO_SD
        span = max(scaled) - min(scaled)
        window = scaled[len(scaled) - (end - start) :]
        devs = [abs(v - med) for v in window]
        worst = max(devs)
        # A flat reference (MAD 0): a point on the median is not anomalous, any other infinitely so.
        zs = [d / mad for d in devs] if mad > 0.0 else [0.0 if d == 0.0 else math.inf for d in devs]
        over = sum(1 for z in zs if z >= self.threshold)
        magnitude = min(worst / span, 1.0) if span > 0.0 else 0.0
        return max(zs), magnitude, over, med * peak

    def detect(self, time_series: MetricSeries) -> list[AnomalyResult]:
        """Score every full window; ``[]`` for a series shorter than one window."""
        values = time_series.values.tolist()
        n, size = len(values), self.window_size_points
        out: list[AnomalyResult] = []
        for start in range(0, n - size + 1, self.stride_points):
            end = start + size
            z, magnitude, over, _ = self._window_stats(values, start, end)
            score = 1.0 if math.isinf(z) else z / (z + self.threshold)
            if score < self.score_threshold:
                label = AnomalyType.NORMAL
            elif over * 2 < size:
                label = AnomalyType.SPIKE
            else:
                label = AnomalyType.TREND
            out.append(
                AnomalyResult(
                    *time_series.ids,
                    window_start=time_series.timestamps[start],
                    window_end=time_series.timestamps[end - 1],
                    anomaly_score=score,
                    anomaly_label=label,
                    magnitude=magnitude,
                )
            )
        return out

    def explain(self, time_series: MetricSeries, result: AnomalyResult) -> str:
        """One sentence: the window's robust z-score against the trailing median."""
        # Raises ValueError when the result's window holds no point of the series.
        window = locate_window(time_series, result.window_start, result.window_end)
        start, end = window.start_index, window.end_index
        z, _, over, med = self._window_stats(time_series.values.tolist(), start, end)
        verdict = "normal" if result.anomaly_label is AnomalyType.NORMAL else str(result.anomaly_label)
        return (
            f"{time_series.metric_name} on {time_series.node_id} between "
            f"{result.window_start.isoformat()} and {result.window_end.isoformat()} is {verdict}: "
            f"its most extreme point is {z:.3g} robust standard deviations from the median {med:.6g} "
            f"of the last {self.history_points} points ({over} point(s) at or above {self.threshold:g})."
        )
