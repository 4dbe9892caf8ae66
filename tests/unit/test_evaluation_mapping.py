"""Unit tests for the causal mapping of window results to per-point scores."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from backend.analytics import AnomalyResult, AnomalyType, MetricSeries
from backend.analytics.evaluation import point_scores_from_results

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
TS = [T0 + timedelta(minutes=i) for i in range(8)]
SERIES = MetricSeries("t", "c", "n", "m", TS, [1.0] * 8)


def result(start: int, end: datetime | int, score: float, **ids: str) -> AnomalyResult:
    end_time = TS[end] if isinstance(end, int) else end
    label = AnomalyType.NORMAL if score < 0.5 else AnomalyType.SPIKE
    keys = {"tenant_id": "t", "cluster_id": "c", "node_id": "n", "metric_name": "m", **ids}
    return AnomalyResult(
        keys["tenant_id"], keys["cluster_id"], keys["node_id"], keys["metric_name"],
        TS[start], end_time, score, label,
    )  # fmt: skip


def test_score_lands_on_window_last_point() -> None:
    """Each window's score goes to the point where it ends; other points get 0."""
    scores = point_scores_from_results(SERIES, [result(0, 2, 0.3), result(2, 4, 0.9)])
    assert scores == [0.0, 0.0, 0.3, 0.0, 0.9, 0.0, 0.0, 0.0]


def test_windows_ending_together_take_the_max() -> None:
    """Two windows ending on the same point: the larger score, whatever the order."""
    a, b = result(0, 5, 0.7), result(3, 5, 0.2)
    assert point_scores_from_results(SERIES, [a, b])[5] == 0.7
    assert point_scores_from_results(SERIES, [b, a])[5] == 0.7


def test_hold_repeats_latest_completed_window() -> None:
    """between='hold' keeps the latest completed window's score until the next one ends."""
    scores = point_scores_from_results(SERIES, [result(0, 2, 0.3), result(2, 5, 0.9)], between="hold")
    assert scores == [0.0, 0.0, 0.3, 0.3, 0.3, 0.9, 0.9, 0.9]


def test_end_between_points_goes_to_next_point() -> None:
    """A window ending between two points is attached to the later one (causal)."""
    scores = point_scores_from_results(SERIES, [result(0, TS[3] + timedelta(seconds=30), 0.6)])
    assert scores.index(0.6) == 4


def test_result_after_series_end_is_rejected() -> None:
    """A window ending after the last point cannot come from this series."""
    late = result(0, TS[7] + timedelta(minutes=1), 0.6)
    with pytest.raises(ValueError, match=r"results\[0\]\.window_end .* after the series' last point"):
        point_scores_from_results(SERIES, [late])


def test_foreign_result_is_rejected() -> None:
    """Results of another series are refused, naming the index and both id tuples."""
    with pytest.raises(ValueError, match=r"results\[1\] belongs to \('t', 'c', 'other', 'm'\)"):
        point_scores_from_results(SERIES, [result(0, 2, 0.1), result(0, 3, 0.1, node_id="other")])


def test_no_results_gives_zeros() -> None:
    """No window completed: every point scores 0."""
    assert point_scores_from_results(SERIES, []) == [0.0] * 8


def test_prefix_scores_do_not_depend_on_later_windows() -> None:
    """Causality: adding a window that ends later never changes earlier points' scores."""
    early = [result(0, 3, 0.4)]
    both = [*early, result(4, 7, 1.0)]
    for mode in ("zero", "hold"):
        a = point_scores_from_results(SERIES, early, between=mode)
        b = point_scores_from_results(SERIES, both, between=mode)
        assert a[:7] == b[:7]
