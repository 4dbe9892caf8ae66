"""From an engine's window results to one causal anomaly score per point.

Engines score windows; NAB and the event metrics score points. The mapping here
is causal: a point's score comes only from windows that end at or before it.

The rule (``between="zero"``, the default): each result is attached to the
first point whose timestamp is at or after the result's ``window_end`` (for
windows produced from this series that is the window's last point, where the
window completes); a point's score is the largest score among the results
attached to it, and ``0.0`` where no window completes. This is when a streaming
detector could raise the alarm: once, as the window closes. Repeating that score
on the following points would turn one alarm into several, which NAB counts as
extra false positives (extra detections inside a label window earn nothing).

``between="hold"`` instead keeps the latest completed window's score on the
points that follow until the next window completes (the score a dashboard
would show). With stride 1 both rules give the same scores.

>>> from datetime import datetime, timedelta, timezone
>>> from backend.analytics import AnomalyResult, AnomalyType, MetricSeries
>>> t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
>>> ts = [t0 + timedelta(minutes=i) for i in range(5)]
>>> s = MetricSeries("t", "c", "n", "m", ts, [1.0, 1.0, 1.0, 9.0, 1.0])
>>> r = AnomalyResult("t", "c", "n", "m", ts[1], ts[3], 0.8, AnomalyType.SPIKE)
>>> point_scores_from_results(s, [r])
[0.0, 0.0, 0.0, 0.8, 0.0]
>>> point_scores_from_results(s, [r], between="hold")
[0.0, 0.0, 0.0, 0.8, 0.8]
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Literal

from ..types import AnomalyResult, MetricSeries, datetime_to_epoch_us

__all__ = ["point_scores_from_results"]


def point_scores_from_results(
    series: MetricSeries,
    results: Sequence[AnomalyResult],
    *,
    between: Literal["zero", "hold"] = "zero",
) -> list[float]:
    """One score in [0, 1] per point of ``series``, from windows ending at or before it.

    ``results`` must carry ``series``' ids and end no later than its last point
    (``ValueError`` naming the result's index otherwise); their order does not
    matter. See the module docstring for the two rules.
    """
    if between not in ("zero", "hold"):
        raise ValueError(f"point_scores_from_results: between must be 'zero' or 'hold', got {between!r}")
    n = len(series)
    scores = [0.0] * n
    if not results:
        return scores
    epoch_us = series.epoch_us
    ids = series.ids
    ends_at = [-1] * n  # hold mode: which point holds a completed window
    for k, result in enumerate(results):
        if (result.tenant_id, result.cluster_id, result.node_id, result.metric_name) != ids:
            raise ValueError(
                f"point_scores_from_results: results[{k}] belongs to "
                f"{(result.tenant_id, result.cluster_id, result.node_id, result.metric_name)!r}, "
                f"expected the series' ids {ids!r}"
            )
        end_us = datetime_to_epoch_us(result.window_end)
        i = bisect_left(epoch_us, end_us)
        if i == n:
            raise ValueError(
                f"point_scores_from_results: results[{k}].window_end {result.window_end.isoformat()} "
                f"is after the series' last point"
            )
        scores[i] = max(scores[i], result.anomaly_score)
        ends_at[i] = i
    if between == "hold":
        held = 0.0
        for i in range(n):
            if ends_at[i] >= 0:
                held = scores[i]
            else:
                scores[i] = held
    return scores
