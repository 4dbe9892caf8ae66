"""Classify what an anomalous window looks like and explain it in one sentence.

PLACEHOLDER interface (the real classifier is being written): ``classify`` and
``explain`` look only at the window and at most ``history_points`` points of
history before it (causal).
"""

from __future__ import annotations

import statistics

from ._kinds import AnomalyType
from .types import AnomalyResult, MetricSeries
from .windows import TimeWindow

__all__ = ["AnomalyType", "ExplanationClassifier"]


class ExplanationClassifier:
    """Label a window SPIKE, TREND, SEASONAL or NORMAL against the history before it."""

    def __init__(self, *, history_points: int = 1024) -> None:
        self.history_points = history_points

    def classify(self, series: MetricSeries, window: TimeWindow) -> AnomalyType:
        """The kind of the window ``window`` of ``series``."""
        lo = max(0, window.start_index - self.history_points)
        hist = series.values[lo : window.start_index].tolist()
        win = series.values[window.start_index : window.end_index].tolist()
        if len(hist) < 2 or not win:
            return AnomalyType.NORMAL
        mu, sd = statistics.fmean(hist), statistics.pstdev(hist)
        if sd == 0.0:
            sd = abs(mu) * 1e-12 or 1e-300
        far = [abs(v - mu) / sd > 4.0 for v in win]
        if not any(far):
            return AnomalyType.NORMAL
        return AnomalyType.TREND if far[-1] and sum(far) > len(far) // 2 else AnomalyType.SPIKE

    def explain(self, series: MetricSeries, result: AnomalyResult) -> str:
        """One plain sentence about ``result`` on ``series``."""
        return (
            f"{series.metric_name} on node {series.node_id} (cluster {series.cluster_id}, tenant "
            f"{series.tenant_id}) was {result.anomaly_label.value} from {result.window_start:%H:%M} "
            f"to {result.window_end:%H:%M} UTC."
        )
